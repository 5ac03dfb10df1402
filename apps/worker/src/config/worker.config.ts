import { availableParallelism, hostname } from 'node:os';
import { z } from 'zod';
import { commonEnvSchema, envBool, envInt, envString, loadConfig } from '@fathom/config';

const providerList = z
  .preprocess((v) => (v === '' || v === undefined ? 'cpu' : v), z.string())
  .transform((v) => v.split(',').map((p) => p.trim().toLowerCase()).filter(Boolean))
  .pipe(z.array(z.enum(['cpu', 'cuda', 'tensorrt'], { error: 'each provider must be one of cpu, cuda, tensorrt' })).min(1));

export const workerEnvSchema = commonEnvSchema.extend({
  WORKER_ID: envString(`${hostname()}-${process.pid}`),
  /** Folder of model manifests (*.model.yaml|yml|json) and their weights. */
  MODELS_DIR: z.preprocess((v) => (v === '' ? undefined : v), z.string().optional()),
  /** Where `npm run models -- pull` puts downloaded weights (default ~/.cache/fathom/models). */
  MODELS_CACHE_DIR: z.preprocess((v) => (v === '' ? undefined : v), z.string().optional()),
  /** Comma-separated models to serve, as `name` or `name@version`; empty serves every model found. */
  WORKER_MODELS: z
    .preprocess((v) => (v === '' ? undefined : v), z.string().optional())
    .transform((v) => (v ? v.split(',').map((m) => m.trim()).filter(Boolean) : undefined)),
  /** Serve the built-in manifests (PP-OCR detector and classifier offline; Depth Anything V2 once pulled). */
  WORKER_BUILTIN_MODELS: envBool(true),
  /** Jobs each queue consumer holds at once: >1 lets fetching and storing overlap inference. */
  WORKER_CONCURRENCY: envInt(2, { min: 1, max: 256 }),
  /** Inference threads; each loads every model once. */
  WORKER_INFERENCE_THREADS: envInt(1, { min: 1, max: 64 }),
  /** Largest decoded image, in pixels (the API checks the same limit from the header). */
  WORKER_MAX_PIXELS: envInt(40_000_000, { min: 1 }),
  WORKER_HEARTBEAT_MS: envInt(5_000, { min: 100 }),
  WORKER_HEARTBEAT_TTL_MS: envInt(15_000, { min: 1000 }),
  /** Port of this worker's Prometheus `/metrics` (0: any free port, logged at start). */
  WORKER_METRICS_PORT: envInt(9464, { min: 0, max: 65_535 }),
  WORKER_METRICS_HOST: envString('0.0.0.0'),
  /** onnxruntime threads per session; default: the cores shared among the inference threads. */
  ORT_INTRA_OP_THREADS: envInt(0, { min: 0, max: 256 }),
  ORT_EXECUTION_PROVIDERS: providerList,
});
export type WorkerConfig = z.infer<typeof workerEnvSchema>;

export const WORKER_CONFIG = Symbol('WORKER_CONFIG');

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return loadConfig('fathom-worker', workerEnvSchema, env);
}

export function intraOpThreads(config: WorkerConfig): number {
  return config.ORT_INTRA_OP_THREADS || Math.max(1, Math.floor(availableParallelism() / config.WORKER_INFERENCE_THREADS));
}
