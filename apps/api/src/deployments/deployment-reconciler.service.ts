import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { LIVE_DEPLOYMENT_STATES, type KnownModel, type WorkerHeartbeat } from '@fathom/contracts';
import { DeploymentStore, type DeploymentRecord } from '@fathom/database';
import { RedisAvailability } from '@fathom/queue';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { QueueRegistry } from '../infrastructure/queue.registry';
import { ServedModelsService } from '../models/catalog/served-models.service';
import { DeploymentSync } from './deployment-sync.service';
import { queuesOf, viewOf, workerReports } from './deployment-views';
import { API_ACTOR, WeightsPuller } from './weights-puller.service';

/** How often every API instance reconciles the registry with the workers' heartbeats and the queues. */
export const RECONCILE_INTERVAL_MS = 1_000;
/** Ended deployments (failed) are read this long after their change, so every instance's sockets hear of it. */
const ENDED_VISIBLE_MS = 60_000;

/**
 * The registry's moves that follow what workers and queues do (ADR 0015), run by every API
 * instance each second; each move is a conditional UPDATE, so instances agree without a leader:
 * - pending / pulling: offered to the puller (one instance takes the lock), so a pull an instance
 *   left behind (a restart) is resumed; an upload still pulling after twice API_REQUEST_TIMEOUT_MS
 *   (its instance stopped mid-request) fails, saying to register it again;
 * - warming → serving once a live worker reports it serving (a local one: serves it), warming →
 *   failed when a worker reports failed and none serves it (with that worker's reason);
 * - retiring → retired once its queues (base and variants) hold no waiting, delayed or active job;
 * - a model version a worker declares (MODELS_DIR, built-ins) without a row becomes a `local` one.
 * Each tick also sends changed views to this instance's /deployments sockets.
 */
@Injectable()
export class DeploymentReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeploymentReconciler.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Whether the last round failed: an outage is logged once, not every second. */
  private failing = false;

  constructor(
    @Inject(DeploymentStore) private readonly store: DeploymentStore,
    @Inject(DeploymentSync) private readonly sync: DeploymentSync,
    @Inject(WeightsPuller) private readonly puller: WeightsPuller,
    @Inject(ServedModelsService) private readonly models: ServedModelsService,
    @Inject(QueueRegistry) private readonly queues: QueueRegistry,
    @Inject(RedisAvailability) private readonly availability: RedisAvailability,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // A flushed or stale Redis is repaired from PostgreSQL before workers read it.
    await this.sync
      .rebuildMirror()
      .catch((error: Error) =>
        this.logger.warn({ msg: 'the deployments mirror could not be rebuilt now; the reconciler keeps it current', error: error.message }),
      );
    this.timer = setInterval(() => {
      this.running ??= this.tick()
        .then(() => {
          if (this.failing) this.logger.log({ msg: 'deployments reconcile works again' });
          this.failing = false;
        })
        .catch((error: Error) => {
          if (!this.failing && this.availability.available)
            this.logger.warn({ msg: 'deployments reconcile failed; retried every second', error: error.message });
          this.failing = true;
        })
        .finally(() => (this.running = undefined));
    }, RECONCILE_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One round; exposed for tests that drive it by hand. */
  async tick(): Promise<void> {
    const [rows, workers, known] = await Promise.all([
      // Failed ones too while their failure is recent: another instance may have made it, and this one's sockets must hear it.
      this.store.list({ states: [...LIVE_DEPLOYMENT_STATES, 'retired'], changedWithinMs: ENDED_VISIBLE_MS }),
      this.models.liveWorkers(),
      this.models.knownModels(),
    ]);
    for (const row of rows) {
      const moved = await this.reconcile(row, workers);
      this.sync.announce(viewOf(moved ?? row, workers));
    }
    await this.registerLocal(rows, workers, known);
  }

  private async reconcile(row: DeploymentRecord, workers: WorkerHeartbeat[]): Promise<DeploymentRecord | undefined> {
    switch (row.state) {
      case 'pending':
      case 'pulling':
        if (row.source === 'url') await this.puller.offer(row);
        // An upload is checked and stored within its request; one still pulling long after, its instance stopped.
        else if (Date.now() - Date.parse(row.updatedAt) > 2 * this.config.API_REQUEST_TIMEOUT_MS)
          return this.move(row, 'failed', {
            reason: 'the API instance that received the upload stopped before its weights were stored: register it again',
          });
        return undefined;
      case 'warming': {
        const reports = workerReports(row, workers);
        if (reports.some((r) => r.state === 'serving')) return this.move(row, 'serving', {});
        const failed = reports.find((r) => r.state === 'failed');
        if (failed) return this.move(row, 'failed', { reason: `worker ${failed.workerId}: ${failed.reason ?? 'failed to load it'}` });
        return undefined;
      }
      case 'retiring': {
        const counts = await Promise.all(
          queuesOf(row).map((name) => this.queues.queue(name).getJobCountByTypes('waiting', 'prioritized', 'delayed', 'active')),
        );
        return counts.every((n) => n === 0) ? this.move(row, 'retired', {}) : undefined;
      }
      default:
        return undefined;
    }
  }

  private async move(row: DeploymentRecord, to: 'serving' | 'failed' | 'retired', changes: { reason?: string }) {
    // A local version found serving is the registry catching up (not audited, as its registration);
    // what follows a key's change (serving, failed, retired) is.
    const audit = !(row.source === 'local' && row.state === 'warming');
    const moved = await this.store.transition(row.id, [row.state], to, API_ACTOR, changes, { audit });
    if (!moved) return undefined;
    this.logger.log({ msg: `deployment ${to}`, id: row.id, model: `${row.name}@${row.version}`, ...changes });
    await this.sync.changed(moved);
    return moved;
  }

  /** Model versions workers declared that the registry has no row for become `local` deployments. */
  private async registerLocal(rows: DeploymentRecord[], workers: WorkerHeartbeat[], known: KnownModel[]): Promise<void> {
    const registered = new Set(rows.filter((r) => r.state !== 'failed').map((r) => `${r.name}@${r.version}`));
    const declared = new Map<string, KnownModel[]>();
    for (const model of [...known, ...workers.flatMap((w) => w.models)]) {
      const key = `${model.name}@${model.version}`;
      if (registered.has(key)) continue;
      const list = declared.get(key) ?? [];
      if (!list.some((m) => m.variant === model.variant)) list.push(model);
      declared.set(key, list);
    }
    for (const models of declared.values()) {
      const base = models.find((m) => !m.variant) ?? models[0]!;
      const serving = workers.some((w) => w.models.some((m) => m.name === base.name && m.version === base.version && !m.variant));
      const variants = models.filter((m) => m.variant);
      const record = await this.store.registerLocal({
        name: base.name,
        version: base.version,
        task: base.task,
        state: serving ? 'serving' : 'warming',
        source: 'local',
        // What the workers declared: enough to name its queues and describe it; its manifest is on their disk.
        manifest: {
          name: base.name,
          version: base.version,
          task: base.task,
          ...(base.description ? { description: base.description } : {}),
          ...(variants.length ? { variants: Object.fromEntries(variants.map((v) => [v.variant!, { description: v.description }])) } : {}),
        },
        weights: {},
        description: base.description ?? null,
        defaults: base.defaults ?? null,
      });
      if (record) await this.sync.changed(record);
    }
  }
}
