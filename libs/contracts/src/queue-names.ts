/**
 * Queue and job names are wire formats: renaming them strands every job already queued under the
 * old name. Change them only with a migration (0.2 added the `{…}` hash tag: README, upgrading).
 */

/** One queue per served model version (and variant), so a worker only ever takes jobs it can run. */
export const INFERENCE_QUEUE_PREFIX = 'infer';

/** The only job name on an inference queue. */
export const INFERENCE_JOB_NAME = 'infer';

/** Redis key prefix for BullMQ and for Fathom's own keys. */
export const DEFAULT_KEY_PREFIX = 'fathom';

/** `<model>@<version>`, or `<model>@<version>#<variant>` for a named fine-tune: one loaded session, one queue. */
export function modelKey(model: string, version: string, variant?: string): string {
  return `${model}@${version}${variant ? `#${variant}` : ''}`;
}

/**
 * `infer.{<model>@<version>[#<variant>]}`. The braces are a Redis Cluster hash tag: BullMQ's keys
 * of one queue (`<prefix>:<queue>:<type>`, which its scripts touch together) are all in the slot of
 * the model key, and different queues land in different slots (ADR 0014).
 */
export function inferenceQueueName(model: string, version: string, variant?: string): string {
  return `${INFERENCE_QUEUE_PREFIX}.{${modelKey(model, version, variant)}}`;
}

/** The model key a queue serves (`infer.{depth@1.0.0}` → `depth@1.0.0`), for messages. */
export function queueModelKey(queue: string): string {
  return /^[^.]+\.\{(.*)\}$/.exec(queue)?.[1] ?? queue;
}
