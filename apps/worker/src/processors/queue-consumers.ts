import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { InferenceJobData, InferenceResult, ServedModel } from '@fathom/contracts';
import { createRedisConnection, inferenceQueueTelemetry, type RedisAvailability, type RedisSettings } from '@fathom/queue';
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
    private readonly options: { redis: RedisSettings; prefix: string; tracing: boolean },
    private readonly processor: InferenceProcessor,
    private readonly logger: Logger,
    private readonly availability: RedisAvailability,
  ) {}

  /** `concurrency`: the jobs a model's consumer holds at once. */
  start(models: ServedModel[], concurrency: (model: ServedModel) => number): void {
    // The same tracer as the API's queue, so producer and consumer spans meet in one trace.
    const telemetry = this.options.tracing ? inferenceQueueTelemetry() : undefined;
    for (const model of models) {
      const connection = this.availability.watch(createRedisConnection(this.options.redis, 'blocking'), `consumer ${model.queue}`);
      this.connections.push(connection);
      const worker = new Worker<InferenceJobData, InferenceResult>(model.queue, (job) => this.processor.process(job, model), {
        connection,
        prefix: this.options.prefix,
        concurrency: concurrency(model),
        ...(telemetry ? { telemetry } : {}),
      });
      // BullMQ reports the errors of the connections it made (its blocking one) here: a lost
      // connection is logged once, by RedisAvailability, not once per reconnect attempt.
      worker.on('error', (error) => {
        if (!this.availability.failed(error, `consumer ${model.queue}`))
          this.logger.error({ msg: 'queue consumer error', queue: model.queue, error: error.message });
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
