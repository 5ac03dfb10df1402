import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { InferenceJobData, InferenceResult, ServedModel } from '@fathom/contracts';
import { createRedisConnection, inferenceQueueTelemetry } from '@fathom/queue';
import type { InferenceProcessor } from './inference.processor';

/**
 * One BullMQ worker per served model queue, all feeding the same inference pool. When tracing,
 * BullMQ's telemetry makes each attempt a consumer span, child of the producer span whose context
 * the API's Queue put in the job; untraced, no telemetry at all (not even no-op spans).
 */
export class QueueConsumers {
  private readonly workers: Worker<InferenceJobData, InferenceResult>[] = [];
  /** BullMQ closes the connections it makes, never one it was given. */
  private readonly connections: Redis[] = [];

  constructor(
    private readonly options: { redisUrl: string; prefix: string; tracing: boolean },
    private readonly processor: InferenceProcessor,
    private readonly logger: Logger,
  ) {}

  /** `concurrency`: the jobs a model's consumer holds at once. */
  start(models: ServedModel[], concurrency: (model: ServedModel) => number): void {
    // The same tracer as the API's queue, so producer and consumer spans meet in one trace.
    const telemetry = this.options.tracing ? inferenceQueueTelemetry() : undefined;
    for (const model of models) {
      const connection = createRedisConnection(this.options.redisUrl, 'blocking');
      this.connections.push(connection);
      const worker = new Worker<InferenceJobData, InferenceResult>(model.queue, (job) => this.processor.process(job, model), {
        connection,
        prefix: this.options.prefix,
        concurrency: concurrency(model),
        ...(telemetry ? { telemetry } : {}),
      });
      worker.on('error', (error) => this.logger.error({ msg: 'queue consumer error', queue: model.queue, error: error.message }));
      // BullMQ emits these once it has recorded the outcome: only then may the input go (JobExecutionService).
      // A failure with a retry to come leaves finishedOn unset.
      worker.on('completed', (job) => void this.processor.ended(job));
      worker.on('failed', (job) => {
        if (job?.finishedOn) void this.processor.ended(job);
      });
      this.workers.push(worker);
    }
  }

  /** Stops taking jobs and waits for the ones in flight to finish. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.close()));
    await Promise.all(this.connections.map((connection) => connection.quit().catch(() => connection.disconnect())));
  }
}
