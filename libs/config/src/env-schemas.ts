import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_KEY_PREFIX } from '@fathom/contracts';
import type { BlobStoreSettings } from '@fathom/storage';
import { envBool, envInt, envOptionalInt, envOptionalString, envString, unsetIfEmpty } from './env-values';

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
  /**
   * Where uploads and results live (docs/adr/0012-object-store-for-bytes.md): `filesystem` (a
   * folder, STORAGE_DIR; one host or a shared volume) or `s3` (an S3-compatible bucket, STORAGE_S3_*).
   */
  STORAGE_BACKEND: z.preprocess(unsetIfEmpty, z.enum(['filesystem', 's3']).default('filesystem')),
  /**
   * The folder of the filesystem backend (default `$XDG_DATA_HOME/fathom/blobs`, as `npm start`
   * uses): API and workers must see the same one, so on several hosts a shared volume, or s3.
   */
  STORAGE_DIR: envOptionalString(),
  /** The XDG base directory STORAGE_DIR defaults under. */
  XDG_DATA_HOME: envOptionalString(),
  /** The bucket of the s3 backend; it must exist. */
  STORAGE_S3_BUCKET: envOptionalString(),
  /** An S3-compatible server's URL (MinIO: http://minio:9000); unset: AWS S3 in STORAGE_S3_REGION. */
  STORAGE_S3_ENDPOINT: z.preprocess(unsetIfEmpty, z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional()),
  STORAGE_S3_REGION: envString('us-east-1'),
  /** Path-style requests (`host/bucket/key`), as MinIO and most self-hosted servers want. */
  STORAGE_S3_FORCE_PATH_STYLE: envBool(false),
  /**
   * The s3 backend's credentials, both or neither. Unset: the AWS SDK's own chain (AWS_ACCESS_KEY_ID
   * and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance or pod role).
   */
  STORAGE_S3_ACCESS_KEY_ID: envOptionalString(),
  STORAGE_S3_SECRET_ACCESS_KEY: envOptionalString(),
  /** The most one object-store request may take before it fails as store_unavailable (503; a retried attempt in the worker). */
  STORAGE_S3_TIMEOUT_MS: envInt(10_000, { min: 100, max: 600_000 }),
});

/** The API sweeps expired blobs (the worker does not read this). */
export const storageSweepEnv = z.object({
  /**
   * How often the API deletes blobs older than STORAGE_RETENTION_SECONDS (one instance per round,
   * by a Redis lock); 0: never. Default: 300 with the filesystem, 0 with s3 (a bucket lifecycle
   * rule expires them; README, "Object store").
   */
  STORAGE_SWEEP_INTERVAL_SECONDS: envOptionalInt({ min: 0, max: 86_400 }),
});
export type StorageEnv = z.infer<typeof storageEnv>;

/**
 * What the storage variables cannot say alone: each backend's required settings. API and worker
 * add these to their schema's refinements, so a missing one stops the process at start-up.
 */
export function storageEnvIssues(env: StorageEnv): { path: [keyof StorageEnv]; message: string }[] {
  const issues: { path: [keyof StorageEnv]; message: string }[] = [];
  if (env.STORAGE_BACKEND === 's3' && !env.STORAGE_S3_BUCKET) {
    issues.push({ path: ['STORAGE_S3_BUCKET'], message: 'is required with STORAGE_BACKEND=s3' });
  }
  if (!env.STORAGE_S3_ACCESS_KEY_ID !== !env.STORAGE_S3_SECRET_ACCESS_KEY) {
    issues.push({
      path: [env.STORAGE_S3_ACCESS_KEY_ID ? 'STORAGE_S3_SECRET_ACCESS_KEY' : 'STORAGE_S3_ACCESS_KEY_ID'],
      message: 'STORAGE_S3_ACCESS_KEY_ID and STORAGE_S3_SECRET_ACCESS_KEY are set together or not at all',
    });
  }
  return issues;
}

/** The store a process uses (libs/storage's createBlobStore takes it); the env must have passed storageEnvIssues. */
export function storageSettings(env: StorageEnv): BlobStoreSettings {
  if (env.STORAGE_BACKEND === 'filesystem') return { backend: 'filesystem', dir: blobDir(env) };
  return {
    backend: 's3',
    bucket: env.STORAGE_S3_BUCKET ?? '',
    ...(env.STORAGE_S3_ENDPOINT ? { endpoint: env.STORAGE_S3_ENDPOINT } : {}),
    region: env.STORAGE_S3_REGION,
    forcePathStyle: env.STORAGE_S3_FORCE_PATH_STYLE,
    ...(env.STORAGE_S3_ACCESS_KEY_ID && env.STORAGE_S3_SECRET_ACCESS_KEY
      ? { credentials: { accessKeyId: env.STORAGE_S3_ACCESS_KEY_ID, secretAccessKey: env.STORAGE_S3_SECRET_ACCESS_KEY } }
      : {}),
    timeoutMs: env.STORAGE_S3_TIMEOUT_MS,
  };
}

/** `$XDG_DATA_HOME/fathom/<name>` (`~/.local/share` when XDG_DATA_HOME is unset): where Fathom keeps data by default. */
export function fathomDataDir(xdgDataHome: string | undefined, name: string): string {
  return join(xdgDataHome ?? join(homedir(), '.local', 'share'), 'fathom', name);
}

/** The filesystem backend's folder: STORAGE_DIR, or `$XDG_DATA_HOME/fathom/blobs`. */
export function blobDir(env: Pick<StorageEnv, 'STORAGE_DIR' | 'XDG_DATA_HOME'>): string {
  return env.STORAGE_DIR ?? fathomDataDir(env.XDG_DATA_HOME, 'blobs');
}

/** Milliseconds between sweeps of expired blobs; 0: none (see STORAGE_SWEEP_INTERVAL_SECONDS). */
export function storageSweepIntervalMs(env: StorageEnv & z.infer<typeof storageSweepEnv>): number {
  return (env.STORAGE_SWEEP_INTERVAL_SECONDS ?? (env.STORAGE_BACKEND === 'filesystem' ? 300 : 0)) * 1000;
}

export const telemetryEnv = z.object({
  LOG_LEVEL: z.preprocess(unsetIfEmpty, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')),
  /**
   * Turns tracing on. startTracing (instrumentation.ts) and the OpenTelemetry SDK read it and the
   * other standard OTEL_* variables before the config is loaded; declared here so the schema lists
   * every variable of Fathom's that the process reads.
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: envOptionalString(),
});

/**
 * The prediction log's buffer (issue 15, ADR 0017): the most finished jobs' records the Redis
 * stream holds while PostgreSQL is away (workers append, the API trims nothing it has not
 * written); beyond it the oldest are dropped and counted (fathom_predictions_dropped_total,
 * alert FathomPredictionsDropped). ~1.5 KB each in Redis.
 */
export const predictionLogEnv = z.object({
  PREDICTION_BUFFER: envInt(50_000, { min: 100, max: 10_000_000 }),
});

/** Every long-running process (API, worker): Redis, retention, logs and traces, the prediction log's buffer. */
export const serviceEnv = redisEnv.extend(storageEnv.shape).extend(telemetryEnv.shape).extend(predictionLogEnv.shape);
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
