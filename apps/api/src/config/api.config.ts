import { z } from 'zod';
import {
  apiMetricsEnv,
  databaseEnv,
  envInt,
  envItems,
  envKeys,
  envOptionalString,
  envString,
  heartbeatEnv,
  imageLimitsEnv,
  loadConfig,
  serviceEnv,
  storageEnvIssues,
  storageSweepEnv,
  unsetIfEmpty,
} from '@fathom/config';

/** The API's own variables; the shared ones come from @fathom/config's pieces. */
const apiOwnEnv = z.object({
  /** Standard names container platforms set. */
  PORT: envInt(8080, { max: 65535 }),
  /** Loopback by default: set HOST=0.0.0.0 (the image and compose do) to serve other machines, with API keys. */
  HOST: envString('127.0.0.1'),
  /**
   * `keys`: every request needs an API key (`npm run keys -- create`); `none`: every caller is the
   * one local principal with every scope, allowed only on a loopback HOST. Default: none on a
   * loopback HOST, keys otherwise.
   */
  API_AUTH: z.preprocess(unsetIfEmpty, z.enum(['keys', 'none']).optional()),
  /** How long an instance trusts a key it read from the database: a revoked key stops working within it. */
  API_KEY_CACHE_MS: envInt(5_000, { min: 0, max: 300_000 }),
  /** Largest upload accepted, in bytes (413 above). */
  API_MAX_UPLOAD_BYTES: envInt(25 * 1024 * 1024, { min: 1 }),
  /**
   * Largest weights file POST /v1/admin/models takes in a multipart upload, in bytes (413
   * weights_too_large above): streamed to disk and the object store, never held in memory.
   */
  API_MAX_WEIGHTS_BYTES: envInt(2 * 1024 * 1024 * 1024, { min: 1 }),
  /**
   * Jobs one evaluation run keeps queued or running per live worker of its version (issue 14): at
   * 1, each worker keeps a free slot for user jobs (a worker holds 2 per inference thread); a run
   * also queues nothing while a user job waits or runs on the version (ADR 0016).
   */
  API_EVAL_JOBS_PER_WORKER: envInt(1, { min: 1, max: 64 }),
  /** How often the drift monitor compares each served version's recent predictions with its reference (one instance per round, ADR 0017). */
  API_DRIFT_INTERVAL_MS: envInt(60_000, { min: 100 }),
  /** Drift's window: a version's latest completed production predictions, this many at most (a score needs 200). */
  API_DRIFT_WINDOW: envInt(200, { min: 200, max: 100_000 }),
  /** Predictions older than this are out of drift's window, however few remain (seconds). */
  API_DRIFT_MAX_AGE_SECONDS: envInt(86_400, { min: 60 }),
  /** How long `promote` waits for its gate's evaluations before answering 409 promotion_refused ("still evaluating"). */
  API_GATE_WAIT_MS: envInt(120_000, { min: 0 }),
  /**
   * Largest dataset archive (.tar, .tar.gz or .zip) POST /v1/datasets takes, in bytes (413
   * dataset_too_large above): streamed to disk, unpacked there, never held in memory.
   */
  API_MAX_DATASET_BYTES: envInt(512 * 1024 * 1024, { min: 1 }),
  /**
   * Where built-in datasets find what they are made from (the Middlebury scene under
   * fixtures/depth/). Unset: `../shared` beside the working directory, when it exists; a built-in
   * that needs it without it is 404 dataset_not_found saying what is missing.
   */
  API_DATASETS_SHARED_DIR: envOptionalString(),
  /** Jobs waiting per model queue before submissions get 503 + Retry-After. */
  API_MAX_QUEUE_DEPTH: envInt(1000, { min: 1 }),
  /**
   * Requests per second per API key (per client address with API_AUTH=none), counted across every
   * API instance through Redis; a key's own limit replaces it. /healthz, /readyz, the web page
   * and /docs are not limited. Over it: 429 rate_limited with Retry-After.
   */
  API_KEY_REQUESTS_PER_SECOND: envInt(50, { min: 1 }),
  /**
   * Jobs queued or running at once per API key (with API_AUTH=none: for all callers together),
   * across every API instance; a key's own limit replaces it. Over it: 429 quota_exceeded.
   */
  API_KEY_JOBS_IN_FLIGHT: envInt(100, { min: 1 }),
  /** What Retry-After says when the queue is full or a key's jobs in flight are at its quota. */
  API_RETRY_AFTER_SECONDS: envInt(5, { min: 1 }),
  /** How long POST /v1/infer waits for the result before answering 202. */
  API_INFER_TIMEOUT_MS: envInt(30_000, { min: 1 }),
  /** How long a client may take to send a request's headers (408 after). */
  API_HEADERS_TIMEOUT_MS: envInt(15_000, { min: 1 }),
  /**
   * How long a client may take to send a whole request, body included (408 after): a 25 MiB upload
   * needs 210 s at 1 Mbit/s. Slow-body clients hold a connection this long at most.
   */
  API_REQUEST_TIMEOUT_MS: envInt(300_000, { min: 1 }),
  /** A connection on which nothing moved for this long is closed; longer than API_INFER_TIMEOUT_MS (POST /v1/infer sends nothing while it waits). */
  API_CONNECTION_TIMEOUT_MS: envInt(120_000, { min: 1 }),
  /** An idle keep-alive connection is closed after this long; longer than a load balancer's idle timeout (often 60 s). */
  API_KEEP_ALIVE_TIMEOUT_MS: envInt(72_000, { min: 1 }),
  /** On SIGTERM idle connections close at once; requests in flight get this long, then every connection is closed. */
  API_SHUTDOWN_GRACE_MS: envInt(10_000, { min: 0 }),
  /**
   * Attempts per job (1 = no retry) and the first backoff delay; bad input is never retried. The
   * API writes them into each job's options when it enqueues it (the worker's BullMQ obeys them).
   */
  API_JOB_ATTEMPTS: envInt(3, { min: 1, max: 20 }),
  API_JOB_BACKOFF_MS: envInt(1000, { min: 0 }),
  /**
   * Origins (`scheme://host[:port]`, comma-separated) whose pages may call the API and open its
   * socket.io cross-origin. Unset: same-origin only (the API's own page).
   */
  API_CORS_ORIGINS: envItems(
    z.string().refine((origin) => {
      try {
        return new URL(origin).origin === origin;
      } catch {
        return false;
      }
    }, 'each origin must be scheme://host[:port], with no path or trailing slash'),
  ),
  /** Jobs one socket may be subscribed to at once; a subscribe past it is refused with subscription_limit. */
  API_SOCKET_MAX_SUBSCRIPTIONS: envInt(1000, { min: 1 }),
  /**
   * With STORAGE_BACKEND=s3: GET /v1/jobs/:id/result answers 302 to a presigned URL valid this many
   * seconds, so the bytes go from the bucket to the client, not through the API. 0: the API sends
   * the bytes itself. Only where clients can reach STORAGE_S3_ENDPOINT.
   */
  API_RESULT_REDIRECT_SECONDS: envInt(0, { min: 0, max: 604_800 }),
});

/** Everything the API process reads from its environment. */
export const apiEnvSchema = serviceEnv
  .extend(databaseEnv.shape)
  .extend(heartbeatEnv.shape)
  .extend(imageLimitsEnv.shape)
  .extend(apiMetricsEnv.shape)
  .extend(storageSweepEnv.shape)
  .extend(apiOwnEnv.shape)
  .superRefine((config, context) => {
    for (const issue of storageEnvIssues(config)) context.addIssue({ code: 'custom', ...issue });
    if (config.API_RESULT_REDIRECT_SECONDS > 0 && config.STORAGE_BACKEND !== 's3') {
      context.addIssue({
        code: 'custom',
        path: ['API_RESULT_REDIRECT_SECONDS'],
        message: 'needs STORAGE_BACKEND=s3: only a bucket can hand out a presigned URL (set it to 0)',
      });
    }
    if (config.API_HEADERS_TIMEOUT_MS > config.API_REQUEST_TIMEOUT_MS) {
      context.addIssue({
        code: 'custom',
        path: ['API_HEADERS_TIMEOUT_MS'],
        message: `must not exceed API_REQUEST_TIMEOUT_MS (${config.API_REQUEST_TIMEOUT_MS}): the headers are part of the request`,
      });
    }
    if (config.API_AUTH === 'none' && !isLoopbackHost(config.HOST)) {
      context.addIssue({
        code: 'custom',
        path: ['API_AUTH'],
        message: `none lets whoever reaches the API do anything, so it is allowed only on a loopback HOST (127.0.0.1, ::1, localhost), not ${config.HOST}: set API_AUTH=keys`,
      });
    }
    if (config.API_CONNECTION_TIMEOUT_MS <= config.API_INFER_TIMEOUT_MS) {
      context.addIssue({
        code: 'custom',
        path: ['API_CONNECTION_TIMEOUT_MS'],
        message: `must exceed API_INFER_TIMEOUT_MS (${config.API_INFER_TIMEOUT_MS}): POST /v1/infer sends nothing while it waits`,
      });
    }
  });
export type ApiConfig = z.infer<typeof apiEnvSchema>;
export const API_ENV_KEYS = envKeys(apiEnvSchema);

export const API_CONFIG = Symbol('API_CONFIG');

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase());
}

/** API_AUTH, or its default: none on a loopback HOST, keys otherwise. */
export function authMode(config: Pick<ApiConfig, 'API_AUTH' | 'HOST'>): 'keys' | 'none' {
  return config.API_AUTH ?? (isLoopbackHost(config.HOST) ? 'none' : 'keys');
}

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return loadConfig('fathom-api', apiEnvSchema, env);
}
