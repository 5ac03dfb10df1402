import { Queue, type ConnectionOptions, type JobsOptions, type Telemetry } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import type { InferenceJobData, InferenceResult } from '@fathom/contracts';
import { INFERENCE_JOB_NAME } from '@fathom/contracts';

export type InferenceQueue = Queue<InferenceJobData, InferenceResult, typeof INFERENCE_JOB_NAME>;

export interface JobPolicy {
  attempts: number;
  backoffMs: number;
  retentionSeconds: number;
}

/** Options every inference job is added with: retries with exponential backoff, bounded retention. */
export function inferenceJobOptions(jobId: string, policy: JobPolicy): JobsOptions {
  return {
    jobId,
    attempts: policy.attempts,
    backoff: { type: 'exponential', delay: policy.backoffMs },
    removeOnComplete: { age: policy.retentionSeconds },
    removeOnFail: { age: policy.retentionSeconds },
  };
}

/** The tracer both ends of an inference queue use, so producer and consumer spans read alike. */
export const INFERENCE_TRACER_NAME = 'fathom';

/**
 * BullMQ's OpenTelemetry support: `add` makes a producer span and stores its context in the job
 * (`job.opts.telemetry.metadata`, W3C headers as JSON), from which a Worker given the same
 * telemetry starts its consumer span. Only when tracing is on: off, BullMQ skips all of it.
 */
export function inferenceQueueTelemetry(): Telemetry {
  return new BullMQOtel(INFERENCE_TRACER_NAME);
}

export function createInferenceQueue(
  name: string,
  connection: ConnectionOptions,
  prefix: string,
  opts: { tracing?: boolean } = {},
): InferenceQueue {
  return new Queue<InferenceJobData, InferenceResult, typeof INFERENCE_JOB_NAME>(name, {
    connection,
    prefix,
    ...(opts.tracing ? { telemetry: inferenceQueueTelemetry() } : {}),
  });
}
