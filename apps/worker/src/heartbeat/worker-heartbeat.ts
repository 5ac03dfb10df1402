import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { KnownModel, ServedModel, WorkerDeploymentReport } from '@fathom/contracts';
import type { RedisAvailability, WorkerRegistry } from '@fathom/queue';

/**
 * Announces, every few seconds, that this worker is alive and which models it serves. A beat
 * lost to a Redis outage is not retried on its own; when Redis answers again (RedisAvailability)
 * the worker re-announces at once, catalog included (a Redis restarted without its data has
 * forgotten it), so submissions are routed here again without waiting for the next beat.
 *
 * What it serves changes at runtime (deployments loaded and unloaded, ADR 0015): every change
 * beats at once, with this worker's labels and its report on each deployment.
 */
export class WorkerHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private served: ServedModel[] | undefined;
  private declared: KnownModel[] = [];
  private deployments: WorkerDeploymentReport[] = [];

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly workerId: string,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly availability: RedisAvailability,
    /** WORKER_LABELS: what deployment selectors are matched against. */
    private readonly labels: Readonly<Record<string, string>> = {},
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

  /** What it serves now; announced at once. */
  serve(models: ServedModel[]): void {
    if (this.served === undefined) return;
    this.served = [...models];
    this.beatNow();
  }

  /** Models served now (empty before start and after stop). */
  get models(): readonly ServedModel[] {
    return this.served ?? [];
  }

  /** What it did with each deployment its labels match; announced at once. */
  reportDeployments(reports: WorkerDeploymentReport[]): void {
    this.deployments = [...reports];
    this.beatNow();
  }

  /** Beats out of turn (a change); a failure is logged like a missed beat, and the next beat repeats it. */
  private beatNow(): void {
    this.beat().catch((error: unknown) => this.failed(error));
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
    return this.registry.heartbeat({
      workerId: this.workerId,
      host: hostname(),
      pid: process.pid,
      startedAt: this.startedAt,
      models,
      labels: { ...this.labels },
      deployments: this.deployments,
    });
  }

  /** An outage is logged once, by RedisAvailability; any other failure here. */
  private failed(error: unknown): void {
    if (!this.availability.failed(error, 'heartbeat'))
      this.logger.warn({ msg: 'heartbeat failed', error: error instanceof Error ? error.message : String(error) });
  }
}
