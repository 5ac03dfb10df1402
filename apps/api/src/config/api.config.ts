import { z } from 'zod';
import { envInt, envKeys, envString, heartbeatEnv, imageLimitsEnv, loadConfig, serviceEnv } from '@fathom/config';

/** The API's own variables; the shared ones come from @fathom/config's pieces. */
const apiOwnEnv = z.object({
  /** Standard names container platforms set. */
  PORT: envInt(8080, { max: 65535 }),
  HOST: envString('0.0.0.0'),
  /** Largest upload accepted, in bytes (413 above). */
  API_MAX_UPLOAD_BYTES: envInt(25 * 1024 * 1024, { min: 1 }),
  /** Jobs waiting per model queue before submissions get 503 + Retry-After. */
  API_MAX_QUEUE_DEPTH: envInt(1000, { min: 1 }),
  /** What Retry-After says when the queue is full. */
  API_RETRY_AFTER_SECONDS: envInt(5, { min: 1 }),
  /** How long POST /v1/infer waits for the result before answering 202. */
  API_INFER_TIMEOUT_MS: envInt(30_000, { min: 1 }),
  /**
   * Attempts per job (1 = no retry) and the first backoff delay; bad input is never retried. The
   * API writes them into each job's options when it enqueues it (the worker's BullMQ obeys them).
   */
  API_JOB_ATTEMPTS: envInt(3, { min: 1, max: 20 }),
  API_JOB_BACKOFF_MS: envInt(1000, { min: 0 }),
  /**
   * Keys of the admin API (rollout), as `id:secret` pairs separated by commas; the id names the key
   * in the logs. Unset: the admin API answers 403 admin_disabled.
   */
  API_ADMIN_KEYS: z.preprocess(
    (v) =>
      v === '' || v === undefined
        ? []
        : typeof v === 'string'
          ? v
              .split(',')
              .map((pair) => pair.trim())
              .filter(Boolean)
          : v,
    z.array(
      z
        .string()
        .regex(/^[A-Za-z0-9_.-]+:.{16,}$/, 'each key must be id:secret, with a secret of at least 16 characters')
        .transform((pair) => ({ id: pair.slice(0, pair.indexOf(':')), secret: pair.slice(pair.indexOf(':') + 1) })),
    ),
  ),
});

/** Everything the API process reads from its environment. */
export const apiEnvSchema = serviceEnv.extend(heartbeatEnv.shape).extend(imageLimitsEnv.shape).extend(apiOwnEnv.shape);
export type ApiConfig = z.infer<typeof apiEnvSchema>;
export const API_ENV_KEYS = envKeys(apiEnvSchema);

export const API_CONFIG = Symbol('API_CONFIG');

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return loadConfig('fathom-api', apiEnvSchema, env);
}
