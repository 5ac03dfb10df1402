import { randomUUID } from 'node:crypto';
import { UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq';
import { formatFailureReason, type InferenceJobData, type JobFailure } from '@fathom/contracts';

/** A job taken off its queue as failed: what the caller gives back (its key's place, its input). */
export interface FailedWaitingJob {
  id: string;
  data: Pick<InferenceJobData, 'keyId' | 'input'>;
}

/**
 * Fails every job waiting on `queueName` with `failure` (`[code] message`, unrecoverable: no retry),
 * so a client polling one sees `failed` with that code and socket clients get job.failed from
 * BullMQ's own event. Each job is taken as a worker takes one (moved to active under a lock of ours)
 * and moved to failed at once; a job a worker took first runs to its end. Jobs delayed for a retry
 * are left to their worker. Used when a model version is retired with ?drain=false (ADR 0015).
 */
export async function failWaitingJobs(
  queueName: string,
  connection: ConnectionOptions,
  prefix: string,
  failure: JobFailure,
): Promise<FailedWaitingJob[]> {
  const taker = new Worker<InferenceJobData>(queueName, null, { connection, prefix, autorun: false });
  const failed: FailedWaitingJob[] = [];
  try {
    for (;;) {
      const token = randomUUID();
      const job = await taker.getNextJob(token, { block: false });
      if (!job) break;
      await job.moveToFailed(new UnrecoverableError(formatFailureReason(failure)), token, false);
      failed.push({ id: job.id ?? '', data: { keyId: job.data.keyId, input: job.data.input } });
    }
  } finally {
    await taker.close();
  }
  return failed;
}
