import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { InferenceJobData, InferenceResult, ServedModel } from '@fathom/contracts';
import { createRedisConnection } from '@fathom/queue';
import type { BlobStore } from '@fathom/storage';
import type { InferenceProcessor } from './inference.processor';

/** One BullMQ worker per served model queue, all feeding the same inference pool. */
export class QueueConsumers {
  private readonly workers: Worker<InferenceJobData, InferenceResult>[] = [];

  constructor(
    private readonly options: { redisUrl: string; prefix: string; concurrency: number },
    private readonly processor: InferenceProcessor,
    private readonly blobs: BlobStore,
    private readonly logger: Logger,
  ) {}

  start(models: ServedModel[]): void {
    for (const model of models) {
      const worker = new Worker<InferenceJobData, InferenceResult>(model.queue, (job) => this.processor.process(job), {
        connection: createRedisConnection(this.options.redisUrl, 'blocking'),
        prefix: this.options.prefix,
        concurrency: this.options.concurrency,
      });
      // The input is dropped only once the job is safely completed: a retry still needs it.
      worker.on('completed', (job) => {
        void this.blobs.delete(job.data.input.blobKey).catch(() => undefined);
      });
      worker.on('failed', (job, error) => {
        const final = job && job.attemptsMade >= (job.opts.attempts ?? 1);
        if (job && (final || error.name === 'UnrecoverableError')) void this.blobs.delete(job.data.input.blobKey).catch(() => undefined);
      });
      worker.on('error', (error) => this.logger.error({ msg: 'queue consumer error', queue: model.queue, error: error.message }));
      this.workers.push(worker);
    }
  }

  /** Stops taking jobs and waits for the ones in flight to finish. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.close()));
  }
}
