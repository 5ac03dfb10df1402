import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { QueueEvents } from 'bullmq';
import { inferenceResultSchema, jobProgressSchema, parseFailureReason, upgradeInferenceResult, WsEvent } from '@fathom/contracts';
import { JobRecordStore } from '@fathom/queue';
import { QueueRegistry } from '../queues/queue.registry';
import { cancelledEvent, completedEvent, failedEvent } from './job-event.payloads';
import { JobsGateway } from './jobs.gateway';

/**
 * Worker events → this instance's sockets. Every API instance reads every queue's event stream
 * (a Redis stream, so each reader sees all events) and delivers to the sockets it holds; no
 * socket.io adapter is needed for a job submitted through another instance to reach them.
 */
@Injectable()
export class JobEventsRelay implements OnModuleInit {
  private readonly logger = new Logger(JobEventsRelay.name);

  constructor(
    @Inject(QueueRegistry) private readonly queues: QueueRegistry,
    @Inject(JobsGateway) private readonly gateway: JobsGateway,
    @Inject(JobRecordStore) private readonly records: JobRecordStore,
  ) {}

  onModuleInit(): void {
    this.queues.onQueueEvents((_name, events) => this.attach(events));
  }

  private attach(events: QueueEvents): void {
    events.on('progress', ({ jobId, data }) => {
      if (!this.gateway.hasListeners(jobId)) return;
      const progress = jobProgressSchema.safeParse(data);
      if (progress.success) this.gateway.emitToJob(jobId, WsEvent.Progress, { jobId, progress: progress.data });
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      if (!this.gateway.hasListeners(jobId)) return;
      const raw: unknown = typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue;
      const result = inferenceResultSchema.safeParse(upgradeInferenceResult(raw));
      if (result.success) this.gateway.emitToJob(jobId, WsEvent.Completed, completedEvent(jobId, result.data));
      else this.logger.error({ msg: 'completed job has a malformed result', jobId });
    });
    events.on('failed', ({ jobId, failedReason }) => {
      if (this.gateway.hasListeners(jobId)) this.gateway.emitToJob(jobId, WsEvent.Failed, failedEvent(jobId, parseFailureReason(failedReason)));
    });
    events.on('removed', ({ jobId }) => {
      if (!this.gateway.hasListeners(jobId)) return;
      void this.records.get(jobId).then(
        (record) => record?.cancelledAt !== undefined && this.gateway.emitToJob(jobId, WsEvent.Cancelled, cancelledEvent(jobId)),
        (error: Error) => this.logger.warn({ msg: 'could not read a removed job', jobId, error: error.message }),
      );
    });
  }
}
