import { z } from 'zod';
import { envInt, envOptionalInt } from '@fathom/config';

/**
 * The part of the worker's environment libuv-threads.ts reads before anything else is imported
 * (so no sharp, no Nest here); part of workerEnvSchema, validated with the rest in main.ts.
 */
export const libuvEnv = z.object({
  /** Inference threads; each loads every model once. */
  WORKER_INFERENCE_THREADS: envInt(1, { min: 1, max: 64 }),
  /** libuv's thread pool, which runs sharp's decodes and encodes; unset: 2 per inference thread, at least 4. */
  UV_THREADPOOL_SIZE: envOptionalInt({ min: 1, max: 1024 }),
});

/** libuv's own default. */
export const LIBUV_DEFAULT_THREADPOOL_SIZE = 4;

/** The pool size to set before libuv creates it, or undefined to leave libuv's choice alone. */
export function libuvThreadPoolSize(env: z.infer<typeof libuvEnv>): number | undefined {
  if (env.UV_THREADPOOL_SIZE !== undefined || env.WORKER_INFERENCE_THREADS <= 2) return undefined;
  return Math.min(1024, 2 * env.WORKER_INFERENCE_THREADS);
}
