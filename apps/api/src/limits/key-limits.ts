import type { Principal } from '../auth/principal';
import type { ApiConfig } from '../config/api.config';

/** The key's own limits where it has them, else the API's defaults (API_KEY_*). */
export function effectiveLimits(
  principal: Principal,
  config: Pick<ApiConfig, 'API_KEY_REQUESTS_PER_SECOND' | 'API_KEY_JOBS_IN_FLIGHT'>,
): { requestsPerSecond: number; jobsInFlight: number } {
  return {
    requestsPerSecond: principal.limits.requestsPerSecond ?? config.API_KEY_REQUESTS_PER_SECOND,
    jobsInFlight: principal.limits.jobsInFlight ?? config.API_KEY_JOBS_IN_FLIGHT,
  };
}
