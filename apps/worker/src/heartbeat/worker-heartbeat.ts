import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { KnownModel, ServedModel } from '@fathom/contracts';
import type { RedisAvailability, WorkerRegistry } from '@fathom/queue';

/**
 * Announces, every few seconds, that this worker is alive and which models it serves. A beat
 * lost to a Redis outage is not retried on its own; when Redis answers again (RedisAvailability)
 * the worker re-announces at once, catalog included (a Redis restarted without its data has
 * forgotten it), so submissions are routed here again without waiting for the next beat.
 */
export class WorkerHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private served: ServedModel[] | undefined;
  private declared: KnownModel[] = [];

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly workerId: string,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly availability: RedisAvailability,
  ) {
    availability.onRestored(() => {
      if (this.served === undefined) return;
      this.logger.info({ msg: 'heartbeat: re-announcing after the Redis outage' });
      Promise.all([this.registry.declare(this.declared), this.beat()]).catch((error: unknown) => this.failed(error));
    });
  }

  async start(models: ServedModel[]): Promise<void> {
    this.served = models;
    await this.beat();
    this.timer = setInterval(() => {
      this.beat().catch((error: unknown) => this.failed(error));
    }, this.intervalMs);
  }

  /** Records every model this worker knows, served or not (see WorkerRegistry.declare). */
  async declare(models: KnownModel[]): Promise<void> {
    this.declared = models;
    await this.registry.declare(models);
  }

  stop(): void {
    clearInterval(this.timer);
    this.served = undefined;
  }

  async withdraw(): Promise<void> {
    this.stop();
    await this.registry.remove(this.workerId);
  }

  private beat(): Promise<void> {
    const models = this.served;
    if (models === undefined) return Promise.resolve();
    return this.registry.heartbeat({ workerId: this.workerId, host: hostname(), pid: process.pid, startedAt: this.startedAt, models });
  }

  /** An outage is logged once, by RedisAvailability; any other failure here. */
  private failed(error: unknown): void {
    if (!this.availability.failed(error, 'heartbeat'))
      this.logger.warn({ msg: 'heartbeat failed', error: error instanceof Error ? error.message : String(error) });
  }
}
