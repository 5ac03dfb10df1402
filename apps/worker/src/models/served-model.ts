import { inferenceQueueName, type KnownModel, type ServedModel } from '@fathom/contracts';
import type { ModelSpec } from '@fathom/models';
import { jobsInHand } from '../inference/inference.pool';
import type { LoadedModel } from '../inference/thread-protocol';

/** A model as the worker declares it (served or not): its queue, its input in words. */
export function knownModel(spec: ModelSpec): KnownModel {
  return {
    name: spec.name,
    version: spec.version,
    ...(spec.variant ? { variant: spec.variant } : {}),
    task: spec.task,
    queue: inferenceQueueName(spec.name, spec.version, spec.variant),
    description: spec.description,
    defaults: spec.defaults,
    input: { name: spec.input.name, description: describeInput(spec) },
  };
}

/** A model as the heartbeat announces it once loaded and warmed up. */
export function servedModel(spec: ModelSpec, loaded: LoadedModel | undefined): ServedModel {
  return { ...knownModel(spec), executionProvider: loaded?.executionProvider ?? 'cpu', loadMs: loaded?.loadMs, warmupMs: loaded?.warmupMs };
}

/**
 * Jobs a model's queue consumer holds at once: WORKER_CONCURRENCY, else enough to keep every
 * thread busy — a batch running and the next being decoded.
 */
export function consumerConcurrency(config: { WORKER_CONCURRENCY: number; WORKER_INFERENCE_THREADS: number }, maxBatch = 1): number {
  return config.WORKER_CONCURRENCY || config.WORKER_INFERENCE_THREADS * jobsInHand(maxBatch);
}

function describeInput(spec: ModelSpec): string {
  const r = spec.input.resize;
  const size = r.mode === 'fixed' ? `${r.width}×${r.height}` : `keep aspect, ${r.fit} ${r.target}, multiple of ${r.multiple}`;
  return `${spec.input.layout} float32, ${size}`;
}
