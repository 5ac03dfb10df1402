import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import {
  LOADED_DEPLOYMENT_STATES,
  modelKey,
  selectorMatches,
  type DesiredDeployment,
  type WorkerDeploymentReport,
} from '@fathom/contracts';
import { specsFromDeployment, specKey, type ModelSpec } from '@fathom/models';
import type { DeploymentMirror, RedisAvailability, RedisClient } from '@fathom/queue';
import { BlobStoreUnavailableError, type BlobStore } from '@fathom/storage';
import { deploymentFingerprint, planDeployments } from './deployment-plan';
import type { ModelServing } from './model-serving';
import { fetchStoredWeights } from './stored-weights';

/** How long one wait for a change notice lasts: then the whole mirror is read again anyway (a missed notice, a flushed Redis). */
export const DEPLOYMENTS_RESYNC_MS = 30_000;
/** Pause after a failed read of the mirror (Redis down) before the next. */
const RETRY_MS = 1_000;

export interface DeploymentWatcherOptions {
  /** WORKER_LABELS. */
  labels: Readonly<Record<string, string>>;
  /** WORKER_MEMORY_BUDGET_MB in bytes; 0: no budget. */
  budgetBytes: number;
  /** WORKER_INFERENCE_THREADS. */
  threads: number;
  /** The model cache: deployments' weights go to `<cacheDir>/store/`. */
  cacheDir: string;
  /** The models this worker serves from MODELS_DIR and the built-ins (loaded at start). */
  local: readonly ModelSpec[];
  resyncMs?: number;
}

/** What this worker serves beyond its start-up set, by unit: a deployment (by id) or a local model version (`local:name@version`). */
interface Unit {
  specs: ModelSpec[];
  /** deploymentFingerprint, for a deployment. */
  fingerprint?: string;
}

/**
 * The worker side of deployments (ADR 0015): reads the Redis mirror at start and whenever its
 * change stream moves (XREAD BLOCK on a connection of its own, and every DEPLOYMENTS_RESYNC_MS
 * anyway), and converges, one pass at a time: loads the deployments that match its labels and fit
 * its memory budget, unloads those that left, and stops serving a local model the registry
 * retired or replaced. Reports each deployment's state in the heartbeat. A failure to load one is
 * reported with its reason; nothing else stops serving, and the worker never exits over it.
 *
 * Emits 'converged' after each pass (what tests wait for, instead of polling).
 */
export class DeploymentWatcher extends EventEmitter {
  private readonly units = new Map<string, Unit>();
  private readonly reports = new Map<string, WorkerDeploymentReport>();
  /** Deployments that failed here, by id → the fingerprint that failed: tried again only once it changes. */
  private readonly failed = new Map<string, string>();
  /** Local models by name@version (a version and its variants are served and stopped together). */
  private readonly localByVersion = new Map<string, ModelSpec[]>();
  private stopping = false;
  private running: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private passing: Promise<void> | undefined;

  constructor(
    private readonly mirror: DeploymentMirror,
    /** A connection of its own ('blocking' role): XREAD BLOCK holds it. */
    private readonly blocking: RedisClient,
    private readonly blobs: BlobStore,
    private readonly serving: ModelServing,
    private readonly report: (reports: WorkerDeploymentReport[]) => void,
    private readonly options: DeploymentWatcherOptions,
    private readonly logger: Logger,
    private readonly availability?: RedisAvailability,
  ) {
    super();
    for (const spec of options.local) {
      const key = modelKey(spec.name, spec.version);
      this.localByVersion.set(key, [...(this.localByVersion.get(key) ?? []), spec]);
      // Served from start-up until the registry says otherwise.
      this.units.set(`local:${key}`, { specs: this.localByVersion.get(key)! });
    }
  }

  /** Starts watching; the first pass reads the mirror at once. */
  start(): void {
    this.running ??= this.loop();
  }

  /** Stops watching (a pass in progress finishes first); what is loaded stays loaded. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp?.();
    this.blocking.disconnect();
    await this.running;
  }

  private async loop(): Promise<void> {
    let after: string | undefined;
    while (!this.stopping) {
      try {
        // Where to wait from is read before the mirror: a change between the two is not missed.
        after ??= await this.mirror.lastChangeId();
        await this.converge(await this.mirror.readAll());
        if (this.stopping) break;
        after = await this.mirror.waitForChange(this.blocking, after, this.options.resyncMs ?? DEPLOYMENTS_RESYNC_MS);
      } catch (error) {
        if (this.stopping) break;
        // An outage is logged once, by RedisAvailability; anything else here.
        if (!this.availability?.failed(error, 'deployments watcher'))
          this.logger.warn({ msg: 'deployments: could not read the mirror; trying again', error: errorMessage(error) });
        await new Promise<void>((resolve) => {
          this.wakeUp = resolve;
          setTimeout(resolve, RETRY_MS).unref();
        });
      }
    }
  }

  /** Whether a pass is in progress (it may have announced a change it has not finished making). */
  get converging(): boolean {
    return this.passing !== undefined;
  }

  /** Resolves once the pass in progress, if any, has finished: what it loads and unloads is done. */
  async settled(): Promise<void> {
    await this.passing;
  }

  private converge(entries: DesiredDeployment[]): Promise<void> {
    this.passing = this.pass(entries).finally(() => (this.passing = undefined));
    return this.passing;
  }

  /** One pass: what should be served against what is, stops first (memory, queue names), then starts in creation order. */
  private async pass(entries: DesiredDeployment[]): Promise<void> {
    const plan = planDeployments(entries, {
      labels: this.options.labels,
      budgetBytes: this.options.budgetBytes,
      threads: this.options.threads,
      failed: (d) => this.failed.get(d.id) === deploymentFingerprint(d),
    });
    const wanted = new Map<string, DesiredDeployment>(plan.load.map((d) => [d.id, d]));
    // Reported: the deployments whose selector matches, in a loaded state (loaded, skipped, or failed here).
    const reported = new Set(
      entries
        .filter(
          (d) => d.source !== 'local' && LOADED_DEPLOYMENT_STATES.includes(d.state) && selectorMatches(d.selector, this.options.labels),
        )
        .map((d) => d.id),
    );
    for (const id of this.failed.keys()) if (!entries.some((d) => d.id === id)) this.failed.delete(id);

    for (const [id, unit] of [...this.units]) {
      const local = id.startsWith('local:') ? id.slice('local:'.length) : undefined;
      const keep =
        local !== undefined ? !plan.blockedLocal.has(local) : wanted.get(id) && deploymentFingerprint(wanted.get(id)!) === unit.fingerprint;
      if (keep) continue;
      this.units.delete(id);
      await this.serving.stop(unit.specs);
      // Announced before it is logged: whoever reads the log line finds the heartbeat already says so.
      if (!reported.has(id)) this.reports.delete(id);
      this.publish();
      this.logger.info({
        msg: local ? 'local model unloaded: retired or replaced in the registry' : 'deployment unloaded: it left this worker’s set',
        unit: id,
        models: unit.specs.map(specKey),
      });
    }
    for (const id of [...this.reports.keys()]) if (!reported.has(id)) this.reports.delete(id);
    for (const { deployment, reason } of plan.skipped) this.setReport(deployment.id, 'skipped', reason);
    this.publish();

    for (const [key, specs] of this.localByVersion) {
      const id = `local:${key}`;
      if (this.units.has(id) || plan.blockedLocal.has(key) || this.stopping) continue;
      await this.serving.start(specs).then(
        () => this.units.set(id, { specs }),
        (error: unknown) => this.logger.error({ msg: 'local model could not be served again', model: key, error: errorMessage(error) }),
      );
    }
    for (const deployment of plan.load) {
      if (this.units.has(deployment.id) || this.stopping) continue;
      await this.loadDeployment(deployment);
    }
    this.emit('converged');
  }

  private async loadDeployment(deployment: DesiredDeployment): Promise<void> {
    const key = modelKey(deployment.name, deployment.version);
    const fingerprint = deploymentFingerprint(deployment);
    this.setReport(deployment.id, 'pulling');
    this.publish();
    try {
      const specs = specsFromDeployment(deployment, this.options.cacheDir);
      for (const spec of specs) {
        if (spec.source.kind === 'store') await fetchStoredWeights(this.blobs, this.options.cacheDir, spec.source.sha256);
      }
      this.setReport(deployment.id, 'warming');
      this.publish();
      await this.serving.start(specs);
      this.units.set(deployment.id, { specs, fingerprint });
      this.setReport(deployment.id, 'serving');
      this.publish();
      this.logger.info({ msg: 'deployment serving', deployment: deployment.id, model: key, variants: specs.map(specKey) });
    } catch (error) {
      const reason = errorMessage(error);
      // The object store down is no fault of the deployment: tried again on the next pass.
      if (!(error instanceof BlobStoreUnavailableError)) this.failed.set(deployment.id, fingerprint);
      this.setReport(deployment.id, 'failed', reason);
      this.publish();
      this.logger.error({ msg: 'deployment failed to load', deployment: deployment.id, model: key, reason });
    }
  }

  private setReport(deploymentId: string, state: WorkerDeploymentReport['state'], reason?: string): void {
    const previous = this.reports.get(deploymentId);
    if (previous?.state === state && previous.reason === reason) return;
    this.reports.set(deploymentId, { deploymentId, state, ...(reason !== undefined ? { reason } : {}), since: Date.now() });
  }

  private publish(): void {
    this.report([...this.reports.values()]);
  }
}

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));
