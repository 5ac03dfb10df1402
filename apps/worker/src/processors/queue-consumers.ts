import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import { ErrorCode, type InferenceJobData, type InferenceResult, type ServedModel } from '@fathom/contracts';
import {
  createRedisConnection,
  inferenceQueueTelemetry,
  isWorkerLost,
  stallWorkerOptions,
  type RedisAvailability,
  type RedisSettings,
  type StallPolicy,
  type RedisClient,
} from '@fathom/queue';
import { modelLabels, type WorkerMetrics } from '../metrics/worker.metrics';
import type { InferenceProcessor } from './inference.processor';

export interface QueueConsumerOptions {
  redis: RedisSettings;
  prefix: string;
  tracing: boolean;
  /** Kept on each job this worker takes (BullMQ's `processedBy`). */
  workerId: string;
  /** How a dead worker's jobs are found and run again, or failed `worker_lost`; the same on every worker. */
  stalls: StallPolicy;
}

/**
 * One BullMQ worker per served model queue, all feeding the same inference pool. When tracing,
 * BullMQ's telemetry makes each attempt a consumer span, child of the producer span whose context
 * the API's Queue put in the job; untraced, no telemetry at all (not even no-op spans).
 *
 * Locks are renewed from this (the main) thread while inference runs on the pool's threads, so a
 * long inference keeps its job; only a worker that stops answering loses it. A stall is counted
 * here by the one worker whose stalled check moved the job (BullMQ runs one check per queue per
 * interval across all workers), so the cluster counts each stall once.
 */
export class QueueConsumers {
  /** Each consumed queue's BullMQ worker and the connection it was given (BullMQ closes only those it makes). */
  private readonly consumers = new Map<string, { worker: Worker<InferenceJobData, InferenceResult>; connection: RedisClient }>();

  constructor(
    private readonly options: QueueConsumerOptions,
    private readonly processor: InferenceProcessor,
    private readonly metrics: WorkerMetrics,
    private readonly logger: Logger,
    private readonly availability: RedisAvailability,
  ) {}

  /** `concurrency`: the jobs a model's consumer holds at once. */
  start(models: ServedModel[], concurrency: (model: ServedModel) => number): void {
    for (const model of models) this.add(model, concurrency(model));
  }

  /** The queues consumed now. */
  get queues(): string[] {
    return [...this.consumers.keys()];
  }

  /** Starts consuming one more model's queue (a deployment loaded at runtime), holding up to `concurrency` jobs. */
  add(model: ServedModel, concurrency: number): void {
    if (this.consumers.has(model.queue)) throw new Error(`${model.queue} is already consumed`);
    // The same tracer as the API's queue, so producer and consumer spans meet in one trace.
    const telemetry = this.options.tracing ? inferenceQueueTelemetry() : undefined;
    const connection = this.availability.watch(createRedisConnection(this.options.redis, 'blocking'), `consumer ${model.queue}`);
    const worker = new Worker<InferenceJobData, InferenceResult>(model.queue, (job) => this.processor.process(job, model), {
      connection,
      prefix: this.options.prefix,
      concurrency,
      // BullMQ also names its Redis connection after it, where whitespace is refused.
      name: this.options.workerId.replace(/\s/g, '_'),
      ...stallWorkerOptions(this.options.stalls),
      ...(telemetry ? { telemetry } : {}),
    });
    const labels = modelLabels(model);
    // BullMQ reports the errors of the connections it made (its blocking one) here: a lost
    // connection is logged once, by RedisAvailability, not once per reconnect attempt.
    worker.on('error', (error) => {
      if (!this.availability.failed(error, `consumer ${model.queue}`))
        this.logger.error({ msg: 'queue consumer error', queue: model.queue, error: error.message });
    });
    // BullMQ emits `completed` and `failed` once it has recorded the outcome: only then may the input
    // go (JobExecutionService). A failure with a retry to come leaves finishedOn unset.
    worker.on('completed', (job) => void this.processor.ended(job));
    worker.on('stalled', (jobId) => {
      this.metrics.jobStalled(labels);
      this.logger.warn({ msg: 'job stalled: its worker stopped renewing its lock; it runs again', jobId, queue: model.queue });
    });
    worker.on('failed', (job, error) => {
      if (job?.finishedOn) void this.processor.ended(job);
      // The failure BullMQ itself gives a job over the stall limit, without calling the processor.
      if (!isWorkerLost(error.message)) return;
      this.metrics.jobFailed(labels, ErrorCode.WorkerLost, true);
      this.logger.error({
        msg: 'job failed: its workers died running it more often than allowed',
        jobId: job?.id,
        queue: model.queue,
        stalls: job?.stalledCounter,
        maxStalledCount: this.options.stalls.maxStalledCount,
      });
    });
    this.consumers.set(model.queue, { worker, connection });
  }

  /**
   * Stops consuming one queue (a deployment unloaded at runtime): takes no more of its jobs and
   * waits for those in hand to finish; what is still queued waits for another worker.
   */
  async remove(queue: string): Promise<void> {
    const consumer = this.consumers.get(queue);
    if (!consumer) return;
    this.consumers.delete(queue);
    await this.closeOne(consumer);
  }

  /** Stops taking jobs and waits for the ones in flight to finish. */
  async close(): Promise<void> {
    const all = [...this.consumers.values()];
    this.consumers.clear();
    await Promise.all(all.map((consumer) => this.closeOne(consumer)));
  }

  private async closeOne({ worker, connection }: { worker: Worker; connection: RedisClient }): Promise<void> {
    // A worker closed while its blocking connection is still connecting (a deployment unloaded just
    // after it was loaded) makes BullMQ 5.81 emit that connection's "Connection is closed" after it
    // removed its listeners: an unhandled rejection. Let it connect first (bounded: Redis may be down).
    await Promise.race([worker.waitUntilReady().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    await worker.close();
    await connection.quit().catch(() => connection.disconnect());
  }
}
