import type { FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal';
import type { ApiConfig } from '../config/api.config';

/** With API_AUTH=none (and until the authentication hook has run): the one trusted local caller. */
export const LOCAL_PRINCIPAL: Principal = {
  keyId: 'local',
  owner: 'local',
  scopes: ['jobs:write', 'jobs:read', 'models:admin', 'keys:admin'],
  limits: { requestsPerSecond: null, jobsInFlight: null },
  authenticated: false,
};

/** Who is calling: the principal the authentication hook set, else the local caller. */
export function principalOf(request: FastifyRequest): Principal {
  return request.principal ?? LOCAL_PRINCIPAL;
}

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
