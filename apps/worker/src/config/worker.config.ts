import { availableParallelism, hostname, totalmem } from 'node:os';
import { z } from 'zod';
import { workerSelectorSchema } from '@fathom/contracts';
import {
  envInt,
  envKeys,
  envList,
  envString,
  heartbeatEnv,
  imageLimitsEnv,
  loadConfig,
  modelCatalogEnv,
  serviceEnv,
  storageEnvIssues,
} from '@fathom/config';
import type { ModelSpec } from '@fathom/models';
import { DEFAULT_STALL_POLICY, type StallPolicy } from '@fathom/queue';
import type { PoolLimits } from '../inference/inference.pool';
import type { ThreadInit } from '../inference/thread-protocol';
import { DEFAULT_PNG_COMPRESSION_LEVEL } from '../imaging/png-encoding';
import { LIBUV_DEFAULT_THREADPOOL_SIZE, libuvEnv } from './libuv.env';

const providerList = z
  .preprocess((v) => (v === '' || v === undefined ? 'cpu' : v), z.string())
  .transform((v) =>
    v
      .split(',')
      .map((p) => p.trim().toLowerCase())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(['cpu', 'cuda', 'tensorrt'], { error: 'each provider must be one of cpu, cuda, tensorrt' })).min(1));

/**
 * `gpu=a100,pool=depth` → { gpu: 'a100', pool: 'depth' }, each name and value by the contract's
 * label rules (what a deployment's selector may ask for); empty: no labels.
 */
const labelList = z
  .preprocess((v) => (v === undefined ? '' : v), z.string())
  .transform((v, context) => {
    const labels: Record<string, string> = {};
    for (const pair of v
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const at = pair.indexOf('=');
      if (at < 0) {
        context.addIssue({ code: 'custom', message: `"${pair}" is not name=value (e.g. WORKER_LABELS=gpu=a100,pool=depth)` });
        return z.NEVER;
      }
      const name = pair.slice(0, at).trim();
      if (name in labels) {
        context.addIssue({ code: 'custom', message: `label "${name}" is given twice` });
        return z.NEVER;
      }
      const value = pair.slice(at + 1).trim();
      // The selector's own rules, so that every label a worker has can be asked for.
      const problem =
        workerSelectorSchema.keyType.safeParse(name).error?.issues[0] ?? workerSelectorSchema.valueType.safeParse(value).error?.issues[0];
      if (problem) {
        context.addIssue({ code: 'custom', message: `"${pair}": ${problem.message}` });
        return z.NEVER;
      }
      labels[name] = value;
    }
    return labels;
  });

/** The worker's own variables; the shared ones come from @fathom/config's pieces. */
const workerOwnEnv = z.object({
  WORKER_ID: envString(`${hostname()}-${process.pid}`),
  /** Comma-separated models to serve, as `name` or `name@version`; empty serves every model found. */
  WORKER_MODELS: envList(),
  /**
   * Jobs each model's queue consumer holds at once; 0 (default): what keeps the inference threads
   * busy — threads × 2 × the model's batch size (one batch running, the next being decoded).
   */
  WORKER_CONCURRENCY: envInt(0, { min: 0, max: 1024 }),
  /** How often the worker refreshes its heartbeat (whose TTL is heartbeatEnv's, shared with the API). */
  WORKER_HEARTBEAT_MS: envInt(5_000, { min: 100 }),
  /** Port of this worker's Prometheus `/metrics` (0: any free port, logged at start). */
  WORKER_METRICS_PORT: envInt(9464, { min: 0, max: 65_535 }),
  WORKER_METRICS_HOST: envString('0.0.0.0'),
  /** libvips threads per image operation (sharp.concurrency); 0: the cores shared among the inference threads. */
  WORKER_SHARP_THREADS: envInt(0, { min: 0, max: 256 }),
  /**
   * Decoded megapixels the inference threads hold at once (jobs are admitted by the sum of their
   * images' width × height, not only by count; one larger than this runs alone); 0: sized to the
   * worker's memory (decodeBudgetPixels).
   */
  WORKER_DECODE_BUDGET_MEGAPIXELS: envInt(0, { min: 0, max: 1_000_000 }),
  /** zlib level of the PNG results, 0 (fastest, largest) to 9 (slowest, smallest). */
  WORKER_PNG_COMPRESSION_LEVEL: envInt(DEFAULT_PNG_COMPRESSION_LEVEL, { min: 0, max: 9 }),
  /**
   * A job's lock, renewed every half of it by the worker's main thread (inference runs on other
   * threads, so a long inference keeps it): a worker that died loses its jobs after at most this.
   */
  WORKER_LOCK_DURATION_MS: envInt(DEFAULT_STALL_POLICY.lockDurationMs, { min: 1000, max: 600_000 }),
  /** How often a live worker looks for jobs whose lock expired and puts them back in the queue. */
  WORKER_STALLED_INTERVAL_MS: envInt(DEFAULT_STALL_POLICY.stalledIntervalMs, { min: 500, max: 600_000 }),
  /** Times a job may lose its worker and run again; once more and it fails `worker_lost`. */
  WORKER_MAX_STALLED_COUNT: envInt(1, { min: 0, max: 100 }),
  /**
   * On SIGTERM the worker stops taking jobs and waits this long for the ones in flight, then exits
   * anyway: their locks expire and another worker runs them again (stalled-job recovery).
   */
  WORKER_SHUTDOWN_GRACE_MS: envInt(30_000, { min: 0, max: 3_600_000 }),
  /**
   * How long each stage of a job may last on its inference thread before the attempt fails
   * `inference_timeout` (retried like any transient failure) and the thread is replaced: decoding
   * (and preprocessing) the input, the session.run it is part of, post-processing and encoding the
   * results. Sized for a 40 MP image on a few CPU cores, with room for a loaded machine.
   */
  WORKER_DECODE_TIMEOUT_MS: envInt(60_000, { min: 50, max: 3_600_000 }),
  WORKER_INFERENCE_TIMEOUT_MS: envInt(300_000, { min: 50, max: 3_600_000 }),
  WORKER_ENCODE_TIMEOUT_MS: envInt(60_000, { min: 50, max: 3_600_000 }),
  /**
   * Replaced threads still stuck (a native call cannot be interrupted, each holds its sessions and a
   * core) past which the worker stops taking jobs, finishes those in hand and exits non-zero for its
   * supervisor to restart it (ADR 0009).
   */
  WORKER_MAX_HUNG_THREADS: envInt(2, { min: 0, max: 64 }),
  /** onnxruntime threads per session; default: the cores shared among the inference threads. */
  ORT_INTRA_OP_THREADS: envInt(0, { min: 0, max: 256 }),
  /** Labels deployments' selectors are matched against (`name=value,…`): a deployment is loaded where every pair of its selector matches. */
  WORKER_LABELS: labelList,
  /**
   * Megabytes the sessions of registered deployments may take on this worker, estimated from their
   * weights (deploymentMemoryBytes); one that would pass it is reported `skipped`. 0: no budget.
   */
  WORKER_MEMORY_BUDGET_MB: envInt(0, { min: 0, max: 16_777_216 }),
  ORT_EXECUTION_PROVIDERS: providerList,
});

/** Everything the worker process reads from its environment. */
export const workerEnvSchema = serviceEnv
  .extend(heartbeatEnv.shape)
  .extend(imageLimitsEnv.shape)
  .extend(modelCatalogEnv.shape)
  .extend(libuvEnv.shape)
  .extend(workerOwnEnv.shape)
  .superRefine((env, context) => {
    for (const issue of storageEnvIssues(env)) context.addIssue({ code: 'custom', ...issue });
  })
  // A heartbeat renewed less often than it expires would make the API count a live worker as gone.
  .refine((env) => env.WORKER_HEARTBEAT_MS < env.WORKER_HEARTBEAT_TTL_MS, {
    path: ['WORKER_HEARTBEAT_MS'],
    message: 'must be shorter than WORKER_HEARTBEAT_TTL_MS, or the heartbeat expires between renewals',
  })
  // Checked more rarely than locks expire, the check and not the lock would decide how long a lost job waits.
  .refine((env) => env.WORKER_STALLED_INTERVAL_MS <= env.WORKER_LOCK_DURATION_MS, {
    path: ['WORKER_STALLED_INTERVAL_MS'],
    message:
      'must not be longer than WORKER_LOCK_DURATION_MS, or the stalled check, not the lock, decides how long a dead worker’s job waits',
  });
export type WorkerConfig = z.infer<typeof workerEnvSchema>;
export const WORKER_ENV_KEYS = envKeys(workerEnvSchema);

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

/**
 * Bytes of the worker's memory an image's pixel costs at the job's peak: not only the decode but
 * the result, enlarged back to the image's size, colormapped and encoded. Measured: a pixel flood
 * of 4000×4000 and 6000×6000 WebPs on the depth stand-in, one job at a time, peak RSS growth
 * 13.5–14.5 bytes per input pixel (test/pixel-flood.e2e-spec.ts).
 */
export const DECODE_BYTES_PER_PIXEL = 16;

/** The share of the worker's memory its images may take while decoding; the rest is sessions, tensors and Node. */
const DECODE_MEMORY_SHARE = 0.25;

/** The memory the worker may use: its cgroup's limit where one is set below the machine's, else the machine's. */
export function workerMemoryBytes(): number {
  const constrained = process.constrainedMemory?.() ?? 0;
  const total = totalmem();
  return constrained > 0 && constrained < total ? constrained : total;
}

/**
 * The decode budget in pixels: WORKER_DECODE_BUDGET_MEGAPIXELS, else a quarter of the worker's
 * memory at DECODE_BYTES_PER_PIXEL, at most one image at IMAGE_MAX_PIXELS per inference thread
 * (more would not run faster: a thread's large images wait for its cores anyway). A 2 GiB
 * container: 33 MP, so an image at the 40 MP limit runs alone; a large machine with one thread:
 * 40 MP.
 */
export function decodeBudgetPixels(config: WorkerConfig, memoryBytes: number = workerMemoryBytes()): number {
  if (config.WORKER_DECODE_BUDGET_MEGAPIXELS > 0) return config.WORKER_DECODE_BUDGET_MEGAPIXELS * 1e6;
  const byMemory = Math.floor((memoryBytes * DECODE_MEMORY_SHARE) / DECODE_BYTES_PER_PIXEL);
  return Math.min(byMemory, config.IMAGE_MAX_PIXELS * config.WORKER_INFERENCE_THREADS);
}

/** libuv's pool size: what libuv-threads.ts set (or was given) before the config was loaded, else libuv's default. */
export function libuvThreads(config: WorkerConfig): number {
  return config.UV_THREADPOOL_SIZE ?? LIBUV_DEFAULT_THREADPOOL_SIZE;
}

/** What every inference thread is started with, from the config and the models it serves. */
export function inferenceThreadInit(config: WorkerConfig, models: ModelSpec[]): ThreadInit {
  return {
    models,
    intraOpThreads: intraOpThreads(config),
    sharpThreads: sharpThreads(config),
    executionProviders: config.ORT_EXECUTION_PROVIDERS,
    maxPixels: config.IMAGE_MAX_PIXELS,
    png: { compressionLevel: config.WORKER_PNG_COMPRESSION_LEVEL },
  };
}

/** What the inference pool admits and how long each stage of a job may last there. */
export function poolLimits(config: WorkerConfig): PoolLimits {
  return {
    decodeBudgetPixels: decodeBudgetPixels(config),
    stages: {
      decode: config.WORKER_DECODE_TIMEOUT_MS,
      inference: config.WORKER_INFERENCE_TIMEOUT_MS,
      encode: config.WORKER_ENCODE_TIMEOUT_MS,
    },
    maxHungThreads: config.WORKER_MAX_HUNG_THREADS,
  };
}

/** How jobs of a worker that died are run again (or failed `worker_lost`). */
export function stallPolicy(config: WorkerConfig): StallPolicy {
  return {
    lockDurationMs: config.WORKER_LOCK_DURATION_MS,
    stalledIntervalMs: config.WORKER_STALLED_INTERVAL_MS,
    maxStalledCount: config.WORKER_MAX_STALLED_COUNT,
  };
}
