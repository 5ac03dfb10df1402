import type { ServedModel } from '@fathom/contracts';
import { knownModelOf, type ModelSpec } from '@fathom/models';
import { jobsInHand } from '../inference/inference.pool';
import type { LoadedModel } from '../inference/thread-protocol';

/** A model as the heartbeat announces it once loaded and warmed up. */
export function servedModel(spec: ModelSpec, loaded: LoadedModel | undefined): ServedModel {
  return {
    ...knownModelOf(spec),
    executionProvider: loaded?.executionProvider ?? 'cpu',
    loadMs: loaded?.loadMs,
    warmupMs: loaded?.warmupMs,
  };
}

/**
 * Jobs a model's queue consumer holds at once: WORKER_CONCURRENCY, else enough to keep every
 * thread busy — a batch running and the next being decoded.
 */
export function consumerConcurrency(config: { WORKER_CONCURRENCY: number; WORKER_INFERENCE_THREADS: number }, maxBatch = 1): number {
  return config.WORKER_CONCURRENCY || config.WORKER_INFERENCE_THREADS * jobsInHand(maxBatch);
}
