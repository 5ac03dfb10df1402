import { availableParallelism, hostname } from 'node:os';
import { z } from 'zod';
import { commonEnvSchema, envBool, envInt, envString, loadConfig } from '@fathom/config';
import type { ModelSpec } from '@fathom/models';
import type { ThreadInit } from '../inference/thread-protocol';
import { DEFAULT_PNG_COMPRESSION_LEVEL } from '../imaging/png-encoding';

const providerList = z
  .preprocess((v) => (v === '' || v === undefined ? 'cpu' : v), z.string())
  .transform((v) =>
    v
      .split(',')
      .map((p) => p.trim().toLowerCase())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(['cpu', 'cuda', 'tensorrt'], { error: 'each provider must be one of cpu, cuda, tensorrt' })).min(1));

export const workerEnvSchema = commonEnvSchema.extend({
  WORKER_ID: envString(`${hostname()}-${process.pid}`),
  /** Folder of model manifests (*.model.yaml|yml|json) and their weights. */
  MODELS_DIR: z.preprocess((v) => (v === '' ? undefined : v), z.string().optional()),
  /** Comma-separated models to serve, as `name` or `name@version`; empty serves every model found. */
  WORKER_MODELS: z
    .preprocess((v) => (v === '' ? undefined : v), z.string().optional())
    .transform((v) =>
      v
        ? v
            .split(',')
            .map((m) => m.trim())
            .filter(Boolean)
        : undefined,
    ),
  /** Serve the built-in manifests (PP-OCR detector and classifier offline; Depth Anything V2 once pulled). */
  WORKER_BUILTIN_MODELS: envBool(true),
  /**
   * Jobs each model's queue consumer holds at once; 0 (default): what keeps the inference threads
   * busy — threads × 2 × the model's batch size (one batch running, the next being decoded).
   */
  WORKER_CONCURRENCY: envInt(0, { min: 0, max: 1024 }),
  /** Inference threads; each loads every model once. */
  WORKER_INFERENCE_THREADS: envInt(1, { min: 1, max: 64 }),
  /** Largest decoded image, in pixels (the API checks the same limit from the header). */
  WORKER_MAX_PIXELS: envInt(40_000_000, { min: 1 }),
  WORKER_HEARTBEAT_MS: envInt(5_000, { min: 100 }),
  WORKER_HEARTBEAT_TTL_MS: envInt(15_000, { min: 1000 }),
  /** Port of this worker's Prometheus `/metrics` (0: any free port, logged at start). */
  WORKER_METRICS_PORT: envInt(9464, { min: 0, max: 65_535 }),
  WORKER_METRICS_HOST: envString('0.0.0.0'),
  /** libvips threads per image operation (sharp.concurrency); 0: the cores shared among the inference threads. */
  WORKER_SHARP_THREADS: envInt(0, { min: 0, max: 256 }),
  /** zlib level of the PNG results, 0 (fastest, largest) to 9 (slowest, smallest). */
  WORKER_PNG_COMPRESSION_LEVEL: envInt(DEFAULT_PNG_COMPRESSION_LEVEL, { min: 0, max: 9 }),
  /** onnxruntime threads per session; default: the cores shared among the inference threads. */
  ORT_INTRA_OP_THREADS: envInt(0, { min: 0, max: 256 }),
  ORT_EXECUTION_PROVIDERS: providerList,
});
export type WorkerConfig = z.infer<typeof workerEnvSchema>;

export const WORKER_CONFIG = Symbol('WORKER_CONFIG');

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return loadConfig('fathom-worker', workerEnvSchema, env);
}

/** Each inference thread's share of the cores: what its onnxruntime and libvips pools get by default. */
function coresPerInferenceThread(config: WorkerConfig): number {
  return Math.max(1, Math.floor(availableParallelism() / config.WORKER_INFERENCE_THREADS));
}

export function intraOpThreads(config: WorkerConfig): number {
  return config.ORT_INTRA_OP_THREADS || coresPerInferenceThread(config);
}

export function sharpThreads(config: WorkerConfig): number {
  return config.WORKER_SHARP_THREADS || coresPerInferenceThread(config);
}

/** What every inference thread is started with, from the config and the models it serves. */
export function inferenceThreadInit(config: WorkerConfig, models: ModelSpec[]): ThreadInit {
  return {
    models,
    intraOpThreads: intraOpThreads(config),
    sharpThreads: sharpThreads(config),
    executionProviders: config.ORT_EXECUTION_PROVIDERS,
    maxPixels: config.WORKER_MAX_PIXELS,
    png: { compressionLevel: config.WORKER_PNG_COMPRESSION_LEVEL },
  };
}
