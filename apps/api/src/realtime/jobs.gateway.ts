import { Inject, Logger } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import {
  ErrorCode,
  FathomError,
  JOBS_NAMESPACE,
  subscribeRequestSchema,
  TERMINAL_STATES,
  WsEvent,
  type JobFailure,
  type JobServerEvents,
  type JobStatus,
} from '@fathom/contracts';
import { Authenticator, LOCAL_PRINCIPAL } from '../auth/authenticator';
import { authenticateSockets, socketPrincipal } from '../auth/socket-authentication';
import { mapError } from '../common/api-exception.filter';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { JobReader } from '../jobs/job-reader.service';
import { QueueRegistry } from '../infrastructure/queue.registry';
import { ApiMetrics, type PushedWsEvent } from '../metrics/api-metrics';
import { JobAudience } from './job-audience.store';
import { terminalEventOf } from './job-event.payloads';
import { SentEnds } from './sent-ends';

type SubscribeReply = { ok: true; status: JobStatus } | { ok: false; error: JobFailure };
type JobEventName = PushedWsEvent & keyof JobServerEvents;

const TERMINAL_EVENTS: ReadonlySet<JobEventName> = new Set<JobEventName>([WsEvent.Completed, WsEvent.Failed, WsEvent.Cancelled]);

export const jobRoom = (jobId: string) => `job:${jobId}`;

/**
 * socket.io namespace /jobs. A client emits `subscribe` {jobId}; it joins the job's room and at once
 * receives `job.state` (and the terminal event if the job already ended), so a job that finished
 * before the subscription is never missed. Worker events arrive through JobEventsRelay.
 */
// CORS and the Origin check: FathomIoAdapter (API_CORS_ORIGINS).
@WebSocketGateway({ namespace: JOBS_NAMESPACE })
export class JobsGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger(JobsGateway.name);

  @WebSocketServer()
  private readonly namespace!: Namespace;

  constructor(
    @Inject(JobReader) private readonly reader: JobReader,
    @Inject(QueueRegistry) private readonly queues: QueueRegistry,
    @Inject(ApiMetrics) private readonly metrics: ApiMetrics,
    @Inject(JobAudience) private readonly audience: JobAudience,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(Authenticator) private readonly authenticator: Authenticator,
  ) {}

  /**
   * Sockets authenticate in the handshake (`auth: {token}`, or an Authorization / X-API-Key
   * header): a missing or bad key is refused before the connection opens, with a connect_error
   * whose `data` is {code, message}. The socket then acts as its key for every subscribe.
   */
  afterInit(namespace: Namespace): void {
    authenticateSockets(namespace, this.authenticator);
  }

  handleConnection(): void {
    this.metrics.socketConnected();
  }

  handleDisconnect(): void {
    this.metrics.socketDisconnected();
  }

  @SubscribeMessage(WsEvent.Subscribe)
  async subscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown): Promise<SubscribeReply> {
    const request = subscribeRequestSchema.safeParse(body);
    if (!request.success)
      return this.refuse(socket, undefined, { code: ErrorCode.InvalidRequest, message: 'Emit subscribe with {"jobId": "<id>"}.' });
    const { jobId } = request.data;
    // Each subscription holds a room and its listeners: one socket must not hold thousands.
    const pending = ((socket.data as { pending?: Set<string> }).pending ??= new Set());
    if (
      !socket.rooms.has(jobRoom(jobId)) &&
      !pending.has(jobId) &&
      this.subscriptions(socket) + pending.size >= this.config.API_SOCKET_MAX_SUBSCRIPTIONS
    )
      return this.refuse(socket, jobId, {
        code: ErrorCode.SubscriptionLimit,
        message: `This socket is subscribed to ${this.config.API_SOCKET_MAX_SUBSCRIPTIONS} jobs, the most API_SOCKET_MAX_SUBSCRIPTIONS allows; unsubscribe from one first.`,
      });
    // Subscribes in flight hold their slot: a burst cannot pass the cap before its joins land.
    pending.add(jobId);
    try {
      const principal = socketPrincipal(socket) ?? LOCAL_PRINCIPAL;
      if (!principal.scopes.includes('jobs:read')) {
        throw new FathomError(ErrorCode.Forbidden, 'This key lacks the scope jobs:read subscribing needs.', { scopes: ['jobs:read'] });
      }
      // Another key's job is answered as one that does not exist.
      const record = await this.reader.record(jobId, principal.keyId);
      // Listen before joining, join before reading: an event can then arrive twice, never zero times.
      await this.queues.queueEvents(record.queue);
      await socket.join(jobRoom(jobId));
      // The audience mark and the reads go to Redis together; the record just read is reused.
      const [{ status, result }] = await Promise.all([this.reader.snapshot(jobId, record), this.audience.subscribed(jobId)]);
      this.push(socket, WsEvent.State, status);
      if (status.state === 'active' && status.progress) this.push(socket, WsEvent.Progress, { jobId, progress: status.progress });
      if (TERMINAL_STATES.includes(status.state)) {
        const terminal = terminalEventOf(status, result);
        if (terminal) this.emitToSocket(socket, jobId, terminal.event, terminal.payload);
      }
      return { ok: true, status };
    } catch (error) {
      return this.refuse(socket, jobId, mapError(error).body.error);
    } finally {
      pending.delete(jobId);
    }
  }

  @SubscribeMessage(WsEvent.Unsubscribe)
  async unsubscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown): Promise<void> {
    const request = subscribeRequestSchema.safeParse(body);
    if (request.success) await socket.leave(jobRoom(request.data.jobId));
  }

  /** Jobs the socket is subscribed to: its rooms but its own (socket.io puts each socket in a room named by its id). */
  private subscriptions(socket: Socket): number {
    const pending = (socket.data as { pending?: Set<string> }).pending ?? new Set<string>();
    let joined = 0;
    for (const room of socket.rooms) if (room !== socket.id && !pending.has(room.slice('job:'.length))) joined += 1;
    return joined;
  }

  /** True when a socket of this instance listens to the job. */
  hasListeners(jobId: string): boolean {
    return this.listeners(jobId) > 0;
  }

  /** How many sockets of this instance listen to the job. */
  listeners(jobId: string): number {
    return this.namespace.adapter.rooms.get(jobRoom(jobId))?.size ?? 0;
  }

  /** Emits to this instance's sockets in the job's room; each socket gets a job's end once. */
  emitToJob<E extends JobEventName>(jobId: string, event: E, payload: Parameters<JobServerEvents[E]>[0]): number {
    const members = this.namespace.adapter.rooms.get(jobRoom(jobId));
    if (!members) return 0;
    let delivered = 0;
    for (const socketId of [...members]) {
      const socket = this.namespace.sockets.get(socketId);
      if (socket && this.emitToSocket(socket, jobId, event, payload)) delivered += 1;
    }
    return delivered;
  }

  private emitToSocket<E extends JobEventName>(
    socket: Socket,
    jobId: string,
    event: E,
    payload: Parameters<JobServerEvents[E]>[0],
  ): boolean {
    if (TERMINAL_EVENTS.has(event)) {
      const ended = ((socket.data as { ended?: SentEnds }).ended ??= new SentEnds());
      if (!ended.firstTime(jobId)) return false;
      void socket.leave(jobRoom(jobId));
    }
    this.push(socket, event, payload);
    return true;
  }

  private push<E extends JobEventName>(socket: Socket, event: E, payload: Parameters<JobServerEvents[E]>[0]): void {
    socket.emit(event, payload);
    this.metrics.wsEventPushed(event);
  }

  private refuse(socket: Socket, jobId: string | undefined, error: JobFailure): SubscribeReply {
    this.logger.debug({ msg: 'subscription refused', jobId, code: error.code });
    socket.emit(WsEvent.Error, { jobId, error });
    return { ok: false, error };
  }
}
