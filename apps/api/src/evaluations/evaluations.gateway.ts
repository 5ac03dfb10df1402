import { Inject, Logger, type OnModuleDestroy } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer, type OnGatewayInit } from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import { ErrorCode, EVALUATION_EVENTS, EVALUATIONS_NAMESPACE, FINISHED_EVALUATION_STATES, type EvaluationView } from '@fathom/contracts';
import { DatasetStore, EvaluationStore, type EvaluationRecord } from '@fathom/database';
import { Authenticator } from '../auth/authenticator';
import { authenticateSockets, socketPrincipal } from '../auth/socket-authentication';
import { evaluationView } from './evaluation-views';
import { mayRead } from './evaluation-access';

/** How often each instance reads the runs its sockets follow (a run may be driven by another instance). */
const WATCH_MS = 500;

/**
 * socket.io namespace /evaluations (keys with jobs:read): a socket emits `subscribe {evaluationId}`
 * and gets `evaluation.progress` after each sample and `evaluation.finished` (the whole view) once.
 * The instance driving a run tells its own sockets at once; every instance also reads the runs its
 * sockets follow twice a second, so a socket on any instance hears about a run driven anywhere.
 */
@WebSocketGateway({ namespace: EVALUATIONS_NAMESPACE })
export class EvaluationsGateway implements OnGatewayInit, OnModuleDestroy {
  private readonly logger = new Logger(EvaluationsGateway.name);
  @WebSocketServer()
  private readonly namespace!: Namespace;
  /** What each followed run last looked like here: done + failed + state. */
  private readonly seen = new Map<string, string>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(EvaluationStore) private readonly store: EvaluationStore,
    @Inject(DatasetStore) private readonly datasets: DatasetStore,
  ) {}

  afterInit(namespace: Namespace): void {
    authenticateSockets(namespace, this.authenticator, 'jobs:read');
    this.timer = setInterval(() => void this.watch(), WATCH_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  @SubscribeMessage(EVALUATION_EVENTS.subscribe)
  async subscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown): Promise<{ ok: boolean; error?: unknown }> {
    const id = (body as { evaluationId?: unknown } | null)?.evaluationId;
    if (typeof id !== 'string' || id === '')
      return { ok: false, error: { code: ErrorCode.InvalidRequest, message: 'Send {"evaluationId": "<id>"}.' } };
    const record = await this.store.find(id).catch(() => undefined);
    const principal = socketPrincipal(socket);
    // Another key's run is answered as one that never existed, as over REST.
    if (!record || !principal || !mayRead(principal, record))
      return { ok: false, error: { code: ErrorCode.EvaluationNotFound, message: `No evaluation ${id}. See GET /v1/evaluations.` } };
    await socket.join(room(id));
    socket.emit(EVALUATION_EVENTS.progress, progressOf(record));
    if (FINISHED_EVALUATION_STATES.includes(record.state)) socket.emit(EVALUATION_EVENTS.finished, await this.view(record));
    return { ok: true };
  }

  /** The driving instance's own news: sent at once, to this instance's sockets. */
  progress(record: EvaluationRecord | null): void {
    if (!record) return;
    this.seen.set(record.id, signature(record));
    this.namespace?.to(room(record.id)).emit(EVALUATION_EVENTS.progress, progressOf(record));
  }

  finished(record: EvaluationRecord | null): void {
    if (!record) return;
    this.seen.set(record.id, signature(record));
    const to = this.namespace?.to(room(record.id));
    to?.emit(EVALUATION_EVENTS.progress, progressOf(record));
    void this.view(record)
      .then((view) => to?.emit(EVALUATION_EVENTS.finished, view))
      .catch((error: Error) => this.logger.debug({ msg: 'evaluation end not sent', evaluationId: record.id, error: error.message }));
  }

  /** Reads the runs this instance's sockets follow; sends what changed since it last looked. */
  private async watch(): Promise<void> {
    const rooms = this.namespace?.adapter.rooms;
    if (!rooms) return;
    const ids = [...rooms.keys()].filter((r) => r.startsWith('evaluation:')).map((r) => r.slice('evaluation:'.length));
    for (const id of [...this.seen.keys()]) if (!ids.includes(id)) this.seen.delete(id);
    for (const id of ids) {
      try {
        const record = await this.store.find(id);
        if (!record || this.seen.get(id) === signature(record)) continue;
        if (FINISHED_EVALUATION_STATES.includes(record.state)) this.finished(record);
        else this.progress(record);
      } catch (error) {
        this.logger.debug({ msg: 'evaluation progress not read', evaluationId: id, error: (error as Error).message });
      }
    }
  }

  private async view(record: EvaluationRecord): Promise<EvaluationView> {
    const dataset = await this.datasets.get(record.datasetId);
    return evaluationView(record, dataset);
  }
}

function room(id: string): string {
  return `evaluation:${id}`;
}

function signature(record: EvaluationRecord): string {
  return `${record.state}:${record.done}:${record.failed}`;
}

function progressOf(record: EvaluationRecord): { id: string; state: string; progress: { total: number; done: number; failed: number } } {
  return { id: record.id, state: record.state, progress: { total: record.total, done: record.done, failed: record.failed } };
}
