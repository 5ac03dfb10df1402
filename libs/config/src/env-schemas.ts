import { z } from 'zod';
import { DEFAULT_KEY_PREFIX } from '@fathom/contracts';
import { envBool, envInt, envOptionalString, envString, unsetIfEmpty } from './env-values';

/*
 * Pieces of the processes' environment schemas. A variable that more than one process reads is
 * declared once here, so the processes cannot disagree on its name, default or bounds; each
 * process merges the pieces it reads with its own variables into one schema (apps/api/src/config,
 * apps/worker/src/config, tools/start, tools/models). README's environment table lists every key.
 */

const redisUrl = z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' });

/** Redis, for queues, blobs, statuses and events. */
export const redisEnv = z.object({
  REDIS_URL: z.preprocess(unsetIfEmpty, redisUrl),
  REDIS_PREFIX: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(/^[a-zA-Z0-9_-]+$/)
      .default(DEFAULT_KEY_PREFIX),
  ),
  /**
   * How long one Redis command may wait for its answer (and a command queued while the connection
   * is down, for the connection): a request touching a stopped Redis fails with 503
   * store_unavailable after this, never hangs. Not applied to BullMQ's blocking reads.
   */
  REDIS_COMMAND_TIMEOUT_MS: envInt(2_000, { min: 50, max: 60_000 }),
  /** How long opening a connection (TCP, TLS, AUTH) may take before it is retried. */
  REDIS_CONNECT_TIMEOUT_MS: envInt(5_000, { min: 100, max: 60_000 }),
  /** PEM file of the certificate authority a `rediss://` server's certificate is checked against (unset: Node's). */
  REDIS_TLS_CA_FILE: envOptionalString(),
  /** REDIS_URL is one node of a Redis Cluster (ioredis `Cluster`, the other nodes discovered from it): ADR 0014. */
  REDIS_CLUSTER: envBool(false),
});

/** How a process connects to Redis (libs/queue's createRedisConnection takes it). */
export function redisSettings(env: z.infer<typeof redisEnv>): {
  url: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  tlsCaFile?: string;
  cluster: boolean;
} {
  return {
    url: env.REDIS_URL,
    cluster: env.REDIS_CLUSTER,
    commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
    connectTimeoutMs: env.REDIS_CONNECT_TIMEOUT_MS,
    ...(env.REDIS_TLS_CA_FILE ? { tlsCaFile: env.REDIS_TLS_CA_FILE } : {}),
  };
}

/** `npm start` starts a private redis-server when REDIS_URL is unset. */
export const optionalRedisUrlEnv = z.object({ REDIS_URL: z.preprocess(unsetIfEmpty, redisUrl.optional()) });

const databaseUrl = z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' });

/** PostgreSQL, for durable records: keys, the audit log (and later deployments, evaluations, predictions). */
export const databaseEnv = z.object({
  /** postgres://user:password@host:5432/database. `npm start` serves an embedded one when unset. */
  DATABASE_URL: z.preprocess(unsetIfEmpty, databaseUrl),
  /** Connections each process keeps at most. */
  DATABASE_POOL_SIZE: envInt(10, { min: 1, max: 1_000 }),
  /** How long one statement may run, or wait for a free connection, before the request fails (503 store_unavailable). */
  DATABASE_STATEMENT_TIMEOUT_MS: envInt(5_000, { min: 100, max: 600_000 }),
  /** How long opening a connection may take. */
  DATABASE_CONNECT_TIMEOUT_MS: envInt(5_000, { min: 100, max: 60_000 }),
});

/** How a process connects to PostgreSQL (libs/database's createDatabase takes it). */
export function databaseSettings(
  env: z.infer<typeof databaseEnv>,
  applicationName: string,
): { url: string; poolSize: number; statementTimeoutMs: number; connectTimeoutMs: number; applicationName: string } {
  return {
    url: env.DATABASE_URL,
    poolSize: env.DATABASE_POOL_SIZE,
    statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
    connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
    applicationName,
  };
}

/** `npm start` serves an embedded PostgreSQL when DATABASE_URL is unset. */
export const optionalDatabaseUrlEnv = z.object({ DATABASE_URL: z.preprocess(unsetIfEmpty, databaseUrl.optional()) });

export const storageEnv = z.object({
  /** How long inputs, results and job records are kept (default 24 h). */
  STORAGE_RETENTION_SECONDS: envInt(86_400, { min: 60 }),
});

export const telemetryEnv = z.object({
  LOG_LEVEL: z.preprocess(unsetIfEmpty, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')),
  /**
   * Turns tracing on. startTracing (instrumentation.ts) and the OpenTelemetry SDK read it and the
   * other standard OTEL_* variables before the config is loaded; declared here so the schema lists
   * every variable of Fathom's that the process reads.
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: envOptionalString(),
});

/** Every long-running process (API, worker): Redis, retention, logs and traces. */
export const serviceEnv = redisEnv.extend(storageEnv.shape).extend(telemetryEnv.shape);
export type ServiceEnv = z.infer<typeof serviceEnv>;

/**
 * The worker refreshes its heartbeat key with this TTL and the API counts a worker as live while
 * the key exists: one value, or the API routes to workers that are gone (or refuses live ones).
 */
export const heartbeatEnv = z.object({
  WORKER_HEARTBEAT_TTL_MS: envInt(15_000, { min: 1000 }),
});

/**
 * The largest image a job may have, in pixels: the API checks it from the header before storing an
 * upload (413 above) and the worker again when it decodes. One rule, one variable.
 */
export const imageLimitsEnv = z.object({
  IMAGE_MAX_PIXELS: envInt(40_000_000, { min: 1 }),
});

/**
 * Where the API serves GET /metrics (not on PORT; 0: any free port, logged). On 127.0.0.1 by
 * default: set API_METRICS_HOST=0.0.0.0 where Prometheus scrapes from another host. `npm start`
 * reads it too, to print the address (it picks the free port itself for 0).
 */
export const apiMetricsEnv = z.object({
  API_METRICS_PORT: envInt(9463, { min: 0, max: 65_535 }),
  API_METRICS_HOST: envString('127.0.0.1'),
});

/** The model catalog: the worker serves it, `npm start` and `npm run models` read it. */
export const modelCatalogEnv = z.object({
  /** Folder of model manifests (*.model.yaml|yml|json) and their weights. */
  MODELS_DIR: envOptionalString(),
  /** Serve the built-in manifests (PP-OCR detector and classifier offline; Depth Anything V2 once pulled). */
  WORKER_BUILTIN_MODELS: envBool(true),
  /** Where downloaded weights live; see defaultCacheDir (@fathom/models). */
  MODELS_CACHE_DIR: envOptionalString(),
  /** The XDG base directory MODELS_CACHE_DIR defaults under (`$XDG_CACHE_HOME/fathom/models`). */
  XDG_CACHE_HOME: envOptionalString(),
});

/** The variables a schema declares, for the README table's test and for loadConfig's rename check. */
export function envKeys(schema: z.ZodObject): string[] {
  return Object.keys(schema.shape).sort();
}
