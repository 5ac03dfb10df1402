import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { propagation, ROOT_CONTEXT, SpanKind, type Context } from '@opentelemetry/api';
import type { QueueEvents } from 'bullmq';
import { jobProgressSchema, parseInferenceResult, WsEvent, type JobFailure, type JobServerEvents } from '@fathom/contracts';
import { BullmqLayout, isWorkerLost, jobFailure, jobRuns, JobRecordStore } from '@fathom/queue';
import { tracer } from '@fathom/telemetry';
import { TRACING, type TracingState } from '../common/tracing';
import { QueueRegistry } from '../infrastructure/queue.registry';
import { ApiMetrics } from '../metrics/api-metrics';
import { JobAudience } from './job-audience.store';
import { cancelledEvent, completedEvent, failedEvent } from './job-event.payloads';
import { jobRoom, JobsGateway } from './jobs.gateway';

type TerminalEvent = typeof WsEvent.Completed | typeof WsEvent.Failed;

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
    @Inject(ApiMetrics) private readonly metrics: ApiMetrics,
    @Inject(TRACING) private readonly tracing: TracingState,
    @Inject(BullmqLayout) private readonly layout: BullmqLayout,
    @Inject(JobAudience) private readonly audience: JobAudience,
  ) {}

  onModuleInit(): void {
    this.queues.onQueueEvents((name, events) => this.attach(name, events));
  }

  private attach(queue: string, events: QueueEvents): void {
    events.on('progress', ({ jobId, data }) => {
      if (!this.heard(jobId, WsEvent.Progress)) return;
      const progress = jobProgressSchema.safeParse(data);
      if (progress.success) this.gateway.emitToJob(jobId, WsEvent.Progress, { jobId, progress: progress.data });
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      if (!this.heard(jobId, WsEvent.Completed)) return;
      const raw: unknown = typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue;
      const result = parseInferenceResult(raw);
      if (result) this.pushTerminal(queue, jobId, WsEvent.Completed, completedEvent(jobId, result));
      else this.logger.error({ msg: 'completed job has a malformed result', jobId });
    });
    events.on('failed', ({ jobId, failedReason }) => {
      if (!this.heard(jobId, WsEvent.Failed)) return;
      const push = (failure: JobFailure) => this.pushTerminal(queue, jobId, WsEvent.Failed, failedEvent(jobId, failure));
      if (isWorkerLost(failedReason)) void this.workerLost(queue, jobId, failedReason).then(push);
      else push(jobFailure(failedReason, undefined));
    });
    // Not counted as unheard: BullMQ also reports removals that are no cancellation, and telling them
    // apart costs a Redis read per event.
    events.on('removed', ({ jobId }) => {
      if (!this.gateway.hasListeners(jobId)) return;
      void this.records.get(jobId).then(
        (record) => record?.cancelledAt !== undefined && this.gateway.emitToJob(jobId, WsEvent.Cancelled, cancelledEvent(jobId)),
        (error: Error) => this.logger.warn({ msg: 'could not read a removed job', jobId, error: error.message }),
      );
    });
  }

  /** A job failed for losing its worker too often: its message says how many times, which the event does not carry. */
  private async workerLost(queue: string, jobId: string, failedReason: string): Promise<JobFailure> {
    const job = await this.queues
      .queue(queue)
      .getJob(jobId)
      .catch((error: Error) => {
        this.logger.warn({ msg: 'could not read a failed job', jobId, error: error.message });
        return undefined;
      });
    return jobFailure(failedReason, job ? jobRuns(job).stalls : undefined);
  }

  /**
   * True when a socket here listens to the job. A job's end that no client subscribed to on any
   * instance is counted as unheard, once for the cluster (JobAudience); progress is not counted.
   */
  private heard(jobId: string, event: typeof WsEvent.Progress | TerminalEvent): boolean {
    if (this.gateway.hasListeners(jobId)) return true;
    if (event !== WsEvent.Progress) {
      this.audience.claimUnheard(jobId, event).then(
        (claimed) => claimed && this.metrics.wsEventUnheard(event),
        (error: Error) => this.logger.warn({ msg: 'could not count an unheard event', jobId, error: error.message }),
      );
    }
    return false;
  }

  /**
   * Delivers a job's end. With tracing on, in a `socket.io emit <event>` span that continues the
   * job's trace: its parent is BullMQ's producer span, whose context the job keeps in its options.
   * With tracing off, at once, with no Redis read.
   */
  private pushTerminal<E extends TerminalEvent>(queue: string, jobId: string, event: E, payload: Parameters<JobServerEvents[E]>[0]): void {
    if (!this.tracing.enabled) {
      this.gateway.emitToJob(jobId, event, payload);
      return;
    }
    void this.jobContext(queue, jobId).then((parent) =>
      tracer().startActiveSpan(
        `socket.io emit ${event}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            'fathom.job.id': jobId,
            'messaging.system': 'socket.io',
            'messaging.operation.type': 'send',
            'messaging.destination.name': jobRoom(jobId),
            'fathom.ws.listeners': this.gateway.listeners(jobId),
          },
        },
        parent,
        (span) => {
          span.setAttribute('fathom.ws.delivered', this.gateway.emitToJob(jobId, event, payload));
          span.end();
        },
      ),
    );
  }

  /**
   * The trace context BullMQ's producer stored with the job (bullmq-otel: W3C headers, read back as
   * `job.opts.telemetry.metadata`), one field read, not the whole job (BullmqLayout). A job without it (queued with tracing off, or already removed) starts a new trace:
   * never the context of whatever request first opened this queue's event reader.
   */
  private async jobContext(queue: string, jobId: string): Promise<Context> {
    try {
      const headers = await this.layout.jobTraceContext(queue, jobId);
      return headers ? propagation.extract(ROOT_CONTEXT, headers) : ROOT_CONTEXT;
    } catch (error) {
      this.logger.warn({
        msg: 'could not read the job’s trace context',
        jobId,
        error: error instanceof Error ? error.message : String(error),
      });
      return ROOT_CONTEXT;
    }
  }
}
