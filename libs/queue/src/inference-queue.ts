import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
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

export function createInferenceQueue(name: string, connection: ConnectionOptions, prefix: string): InferenceQueue {
  return new Queue<InferenceJobData, InferenceResult, typeof INFERENCE_JOB_NAME>(name, { connection, prefix });
}
