import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import {
  aliasNameSchema,
  DEFAULT_ROLLOUT,
  ErrorCode,
  FathomError,
  taskOptionsSchemas,
  LIVE_DEPLOYMENT_STATES,
  type KnownModel,
  type ModelListing,
  type WorkerHeartbeat,
} from '@fathom/contracts';
import { DeploymentStore, type DeploymentRecord } from '@fathom/database';
import { compareVersions, knownModelsOfRegisteredManifest } from '@fathom/models';
import { RolloutStore, WorkerRegistry } from '@fathom/queue';
import {
  aliasVersion,
  parseModelReference,
  resolveModel,
  workersServing,
  type RegisteredVersion,
  type ResolvedModel,
} from './model-resolver';

/** Heartbeats and the catalog are read at most this often per API instance. */
const CACHE_MS = 500;

function cached<T>(load: () => Promise<T>): (() => Promise<T>) & { forget(): void } {
  let entry: { at: number; value: Promise<T> } | null = null;
  const read = () => {
    const now = Date.now();
    if (!entry || now - entry.at > CACHE_MS) {
      const value = load();
      entry = { at: now, value };
      value.catch(() => (entry = null));
    }
    return entry.value;
  };
  return Object.assign(read, { forget: () => (entry = null) });
}

/** How long a submission waits for a fresh read of the registry before it goes on with the last one. */
const REGISTRY_FRESH_WAIT_MS = 250;

/**
 * The registry as submissions read it: fresh for CACHE_MS; then re-read, but a read that fails or
 * takes longer than REGISTRY_FRESH_WAIT_MS gives the last one read instead. Submissions therefore
 * go on through a database outage (the registry cannot change during one: every change is written
 * there first) and never wait on a slow database. The first read, and the first after forget()
 * (this instance just changed a deployment), wait for the database (that one falls back on the
 * last registry too, if the database fails it).
 */
function lastGood<T>(load: () => Promise<T>): (() => Promise<T>) & { forget(): void } {
  let last: { value: T; at: number } | null = null;
  let pending: Promise<T> | null = null;
  let mustWait = true;
  const refresh = () =>
    (pending ??= load()
      .then((value) => {
        last = { value, at: Date.now() };
        mustWait = false;
        return value;
      })
      .finally(() => (pending = null)));
  const read = async (): Promise<T> => {
    if (last && !mustWait && Date.now() - last.at <= CACHE_MS) return last.value;
    const fresh = refresh();
    if (!last) return fresh;
    const stale = last.value;
    if (mustWait)
      return fresh.catch(() => {
        mustWait = false; // tried once: while the database stays down, reads go on with the last registry
        return stale;
      });
    fresh.catch(() => undefined); // a failed refresh is tried again on the next read
    return Promise.race([fresh, new Promise<T>((resolve) => setTimeout(() => resolve(stale), REGISTRY_FRESH_WAIT_MS).unref())]).catch(
      () => stale,
    );
  };
  return Object.assign(read, { forget: () => (mustWait = true) });
}

/**
 * What live workers serve (their heartbeats), what any worker ever declared (the catalog), and
 * each model's rollout: resolves a submission's model, and lists models for GET /v1/models.
 */
@Injectable()
export class ServedModelsService {
  readonly liveWorkers: (() => Promise<WorkerHeartbeat[]>) & { forget(): void };
  readonly knownModels: (() => Promise<KnownModel[]>) & { forget(): void };
  /** The deployments registry as resolution reads it (PostgreSQL, cached like the heartbeats); forget() after a change. */
  readonly registered: (() => Promise<RegisteredVersion[]>) & { forget(): void };

  constructor(
    @Inject(WorkerRegistry) registry: WorkerRegistry,
    @Inject(RolloutStore) private readonly rollouts: RolloutStore,
    @Inject(DeploymentStore) deployments: DeploymentStore,
  ) {
    this.liveWorkers = cached(() => registry.liveWorkers());
    this.knownModels = cached(() => registry.knownModels());
    this.registered = lastGood(async () => registeredVersions(await deployments.list({ states: [...LIVE_DEPLOYMENT_STATES, 'retired'] })));
  }

  /**
   * The version a submission goes to. The heartbeats and the catalog are cached (CACHE_MS), and the
   * reconciler reads them every second too, so a worker that has just announced itself may be
   * missing from the cached copy: a refusal (404 model_not_found, 422 model_not_served) is decided
   * on a fresh read, never on the cache alone. Refusals are rare; each costs one more read.
   */
  async resolve(reference: string, variant: string | undefined): Promise<ResolvedModel> {
    try {
      return await this.resolveOnce(reference, variant);
    } catch (error) {
      if (!(error instanceof FathomError) || (error.code !== ErrorCode.ModelNotFound && error.code !== ErrorCode.ModelNotServed))
        throw error;
      this.liveWorkers.forget();
      this.knownModels.forget();
      return this.resolveOnce(reference, variant);
    }
  }

  private async resolveOnce(reference: string, variant: string | undefined): Promise<ResolvedModel> {
    const { name } = parseModelReference(reference);
    const [workers, known, rollout, registered] = await Promise.all([
      this.liveWorkers(),
      this.knownModels(),
      this.rollouts.get(name),
      this.registered(),
    ]);
    return resolveModel({ reference, variant }, { served: workers.flatMap((w) => w.models), known, rollout, registered });
  }

  /**
   * What workers declared (the catalog) and what REST deployments declare, less the versions that
   * are retiring or retired: every model version a client may be told about.
   */
  private async declaredModels(): Promise<KnownModel[]> {
    const [known, registered] = await Promise.all([this.knownModels(), this.registered()]);
    const retired = new Set(registered.filter((r) => r.state === 'retiring' || r.state === 'retired').map((r) => `${r.name}@${r.version}`));
    return [...known, ...registered.flatMap((r) => r.models)].filter((m) => !retired.has(`${m.name}@${m.version}`));
  }

  /** Every declaration of one model (catalog, registry and live heartbeats), and the ones served now; 404 if none. */
  async declarations(name: string): Promise<{ declared: KnownModel[]; served: KnownModel[] }> {
    const [known, workers] = await Promise.all([this.declaredModels(), this.liveWorkers()]);
    const served = workers.flatMap((w) => w.models).filter((m) => m.name === name);
    const declared = [...known.filter((m) => m.name === name), ...served];
    if (declared.length === 0) throw new FathomError(ErrorCode.ModelNotFound, `There is no model named "${name}".`);
    return { declared, served };
  }

  /**
   * GET /v1/models, read fresh: a listing right after a worker announced itself must count it (the
   * reconciler keeps the cache warm, but up to CACHE_MS old).
   */
  async listings(): Promise<ModelListing[]> {
    this.liveWorkers.forget();
    this.knownModels.forget();
    const [workers, known, registered] = await Promise.all([this.liveWorkers(), this.declaredModels(), this.registered()]);
    const states = new Map(registered.map((r) => [`${r.name}@${r.version}`, r.state]));
    const served = workers.flatMap((w) => w.models);
    const names = [...new Set([...known, ...served].map((m) => m.name))].sort();
    return Promise.all(
      names.map(async (name) => {
        const declared = [...known, ...served].filter((m) => m.name === name);
        const rollout = (await this.rollouts.get(name)) ?? DEFAULT_ROLLOUT;
        const aliases = {
          stable: aliasVersion(rollout, 'stable', declared) ?? null,
          canary: aliasVersion(rollout, 'canary', declared) ?? null,
        };
        const task = declared[0]!.task;
        const base = declared.find((m) => !m.variant) ?? declared[0]!;
        const versions = [...new Set(declared.map((m) => m.version))].sort(compareVersions).reverse();
        return {
          name,
          task,
          description: base.description,
          aliases,
          traffic: trafficShares(rollout.weights, aliases.canary !== null),
          versions: versions.map((version) => ({
            version,
            state: states.get(`${name}@${version}`) ?? null,
            workers: workersServing(workers, { name, version }),
            aliases: aliasNameSchema.options.filter((alias) => aliases[alias] === version),
            executionProviders: [
              ...new Set(served.filter((m) => m.name === name && m.version === version).map((m) => m.executionProvider)),
            ],
            variants: [...new Map(declared.filter((m) => m.version === version && m.variant).map((m) => [m.variant!, m])).values()].map(
              (m) => ({
                name: m.variant!,
                description: m.description,
                workers: workersServing(workers, m),
              }),
            ),
          })),
          options: z.toJSONSchema(taskOptionsSchemas[task], { io: 'input' }),
          defaults: base.defaults,
        };
      }),
    );
  }
}

/**
 * One entry per name@version: its live deployment, else its latest retired one (newest first in
 * `rows`), with what a REST one declares from its manifest.
 */
function registeredVersions(
  rows: Array<Pick<DeploymentRecord, 'name' | 'version' | 'state' | 'source' | 'manifest' | 'description' | 'defaults'>>,
): RegisteredVersion[] {
  const byVersion = new Map<string, RegisteredVersion>();
  for (const row of rows) {
    const key = `${row.name}@${row.version}`;
    const seen = byVersion.get(key);
    if (seen && seen.state !== 'retired') continue;
    if (seen && row.state === 'retired') continue;
    byVersion.set(key, {
      name: row.name,
      version: row.version,
      state: row.state,
      // With what PUT changed since (description, defaults): jobs get the defaults of now.
      models:
        row.source === 'local'
          ? []
          : knownModelsOfRegisteredManifest({
              ...row.manifest,
              ...(row.description !== null ? { description: row.description } : {}),
              ...(row.defaults !== null ? { defaults: row.defaults } : {}),
            }),
    });
  }
  return [...byVersion.values()];
}

/** Weights as percentages of unpinned traffic (a canary weight with no canary version counts as 0). */
function trafficShares(weights: { stable: number; canary: number }, hasCanary: boolean): { stable: number; canary: number } {
  const canary = hasCanary ? weights.canary : 0;
  const total = weights.stable + canary;
  return total === 0 ? { stable: 0, canary: 0 } : { stable: (100 * weights.stable) / total, canary: (100 * canary) / total };
}
