import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { KnownModel, ServedModel } from '@fathom/contracts';
import type { WorkerRegistry } from '@fathom/queue';

/** Announces, every few seconds, that this worker is alive and which models it serves. */
export class WorkerHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly workerId: string,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  async start(models: ServedModel[]): Promise<void> {
    const beat = () =>
      this.registry.heartbeat({ workerId: this.workerId, host: hostname(), pid: process.pid, startedAt: this.startedAt, models });
    await beat();
    this.timer = setInterval(() => {
      beat().catch((error: Error) => this.logger.warn({ msg: 'heartbeat failed', error: error.message }));
    }, this.intervalMs);
  }

  /** Records every model this worker knows, served or not (see WorkerRegistry.declare). */
  async declare(models: KnownModel[]): Promise<void> {
    await this.registry.declare(models);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async withdraw(): Promise<void> {
    this.stop();
    await this.registry.remove(this.workerId);
  }
}
