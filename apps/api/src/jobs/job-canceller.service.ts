import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, FathomError, inferenceJobDataSchema, upgradeJobData, type JobStatus } from '@fathom/contracts';
import { InFlightStore, JobRecordStore, PredictionStream, predictionRecord } from '@fathom/queue';
import { BlobStore } from '@fathom/storage';
import { QueueRegistry } from '../infrastructure/queue.registry';
import { ApiMetrics } from '../metrics/api-metrics';
import { JobReader } from './job-reader.service';

/** Cancels queued jobs. A job a worker has started runs to the end: inference cannot be interrupted. */
@Injectable()
export class JobCanceller {
  private readonly logger = new Logger(JobCanceller.name);

  constructor(
    @Inject(JobReader) private readonly reader: JobReader,
    @Inject(JobRecordStore) private readonly records: JobRecordStore,
    @Inject(QueueRegistry) private readonly queues: QueueRegistry,
    @Inject(BlobStore) private readonly blobs: BlobStore,
    @Inject(InFlightStore) private readonly inFlight: InFlightStore,
    @Inject(ApiMetrics) private readonly metrics: ApiMetrics,
    @Inject(PredictionStream) private readonly predictions: PredictionStream,
  ) {}

  /** `keyId`: the caller's key; another key's job is 404 job_not_found. */
  async cancel(jobId: string, keyId: string): Promise<JobStatus> {
    const { record, job, status } = await this.reader.snapshot(jobId, undefined, keyId);
    if (status.state === 'cancelled') return status;
    if (status.state !== 'queued' || !job) throw this.notCancellable(jobId, status.state);
    // Marked first, so the `removed` event that every API instance sees already reads as a cancellation.
    const cancelledAt = Date.now();
    this.reader.forget(jobId);
    await this.records.setCancelled(record, cancelledAt);
    const removed = await this.queues.queue(record.queue).remove(jobId);
    if (removed !== 1) {
      // A worker took it between our read and the removal (BullMQ does not remove a locked job).
      await this.records.setCancelled(record, undefined);
      throw this.notCancellable(jobId, 'active');
    }
    // Its key may submit another at once (the place would otherwise wait for a heal).
    const owner = job.data.keyId;
    await Promise.all([
      // The job is cancelled either way: an input not deleted now is swept at the retention's end.
      this.blobs
        .delete(this.blobs.inputKey(jobId))
        .catch((e: Error) => this.logger.warn({ msg: 'input of a cancelled job not deleted', jobId, error: e.message })),
      owner !== undefined ? this.inFlight.ended(owner, { id: jobId, queue: record.queue }) : undefined,
    ]);
    this.metrics.jobCancelled(record.model);
    this.logCancellation(job.data, cancelledAt);
    this.logger.log({ msg: 'job cancelled', jobId, traceId: record.traceId, keyId });
    return this.reader.status(jobId);
  }

  /** The prediction log's record of a job cancelled while queued (no worker saw it); a Redis failure here only logs. */
  private logCancellation(raw: unknown, cancelledAt: number): void {
    const data = inferenceJobDataSchema.safeParse(upgradeJobData(raw));
    if (!data.success) return;
    this.predictions
      .append([predictionRecord(data.data, { status: 'cancelled', finishedAt: cancelledAt })])
      .catch((e: Error) => this.logger.warn({ msg: 'cancelled job not logged', jobId: data.data.jobId, error: e.message }));
  }

  private notCancellable(jobId: string, state: string): FathomError {
    return new FathomError(ErrorCode.JobNotCancellable, `Job "${jobId}" is ${state}; only queued jobs can be cancelled.`, { state });
  }
}
