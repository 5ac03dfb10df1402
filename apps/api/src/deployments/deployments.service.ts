import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  DEFAULT_ROLLOUT,
  deploymentMutableSchema,
  ErrorCode,
  FathomError,
  LIVE_DEPLOYMENT_STATES,
  taskOptionsSchemas,
  type DeploymentMutable,
  type DeploymentState,
  type DeploymentView,
} from '@fathom/contracts';
import { DeploymentStore, type AuditRecord, type DeploymentActor, type DeploymentRecord, type DeploymentWeights } from '@fathom/database';
import { DEFAULT_BATCH_DELAY_MS, registeredManifestIssues } from '@fathom/models';
import { createRedisConnection, failWaitingJobs, InFlightStore, RolloutStore } from '@fathom/queue';
import { redisSettings } from '@fathom/config';
import { BlobStore } from '@fathom/storage';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { ServedModelsService } from '../models/catalog/served-models.service';
import { RolloutService, type ModelRollout } from '../models/rollout/rollout.service';
import { DeploymentSync } from './deployment-sync.service';
import { desiredOf, queuesOf } from './deployment-views';
import type { RegistrationRequest } from './registration.reader';
import { planRegistration } from './rest-manifest';
import { WeightsPuller } from './weights-puller.service';
import { WeightsStorage } from './weights-storage';

/** GET /v1/admin/models/:name: the rollout (versions served, aliases, weights, its log), every deployment and the audit history. */
export type ModelDeployments = ModelRollout & { deployments: DeploymentView[]; audit: AuditRecord[] };

/**
 * Registers, changes and retires deployments (ADR 0015). Uploaded weights are checked and stored
 * in the request (202 with the deployment warming, or failed with the reason); weights by URL are
 * pulled in the background (WeightsPuller). Every change is audited with the key, the trace and
 * the client address, mirrored to Redis for workers, and sent to /deployments sockets.
 */
@Injectable()
export class DeploymentsService {
  private readonly logger = new Logger(DeploymentsService.name);

  constructor(
    @Inject(DeploymentStore) private readonly store: DeploymentStore,
    @Inject(DeploymentSync) private readonly sync: DeploymentSync,
    @Inject(WeightsStorage) private readonly storage: WeightsStorage,
    @Inject(WeightsPuller) private readonly puller: WeightsPuller,
    @Inject(RolloutStore) private readonly rollouts: RolloutStore,
    @Inject(RolloutService) private readonly rollout: RolloutService,
    @Inject(ServedModelsService) private readonly models: ServedModelsService,
    @Inject(InFlightStore) private readonly inFlight: InFlightStore,
    @Inject(BlobStore) private readonly blobs: BlobStore,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  async register(request: RegistrationRequest, by: DeploymentActor): Promise<DeploymentView> {
    const plan = planRegistration(request.manifest);
    const { manifest } = plan;
    const expected = new Set(plan.weights.flatMap((w) => (w.kind === 'upload' ? [w.field] : [])));
    for (const field of expected) {
      if (!request.uploads.has(field))
        throw new FathomError(
          ErrorCode.MissingField,
          `The manifest expects its weights in the file part "${field}": send it in a multipart form beside the \`manifest\` field, or give { url, sha256 }.`,
          { field },
        );
    }
    for (const field of request.uploads.keys()) {
      if (!expected.has(field))
        throw new FathomError(
          ErrorCode.InvalidRequest,
          `The file part "${field}" is not named by the manifest: "weights" is the base version's, "weights.<variant>" a variant's.`,
          { field },
        );
    }
    const weights: Record<string, DeploymentWeights> = {};
    for (const w of plan.weights) {
      if (w.kind === 'url') weights[w.part] = { sha256: w.sha256, bytes: 0, url: w.url };
      else {
        const upload = request.uploads.get(w.field)!;
        weights[w.part] = { sha256: upload.sha256, bytes: 0 };
      }
    }
    const stored = (part: string) => ({ store: weights[part]!.sha256 });
    const registered: Record<string, unknown> = {
      ...manifest,
      weights: stored(''),
      ...(manifest.variants
        ? { variants: Object.fromEntries(Object.entries(manifest.variants).map(([n, v]) => [n, { ...v, weights: stored(n) }])) }
        : {}),
    };
    const byUrl = plan.weights.some((w) => w.kind === 'url');
    const record = await this.store.create(
      {
        name: manifest.name,
        version: manifest.version,
        task: manifest.task,
        state: byUrl ? 'pending' : 'pulling',
        source: byUrl ? 'url' : 'upload',
        manifest: registered,
        weights,
        description: manifest.description ?? null,
        defaults: manifest.defaults ?? null,
        batching: manifest.batching?.maxBatch
          ? { maxBatch: manifest.batching.maxBatch, maxDelayMs: manifest.batching.maxDelayMs ?? DEFAULT_BATCH_DELAY_MS }
          : null,
        selector: plan.selector,
        replicas: plan.replicas,
      },
      by,
    );
    this.logger.log({ msg: 'deployment registered', id: record.id, model: `${record.name}@${record.version}`, source: record.source });
    await this.sync.changed(record);

    // Uploads: checked and stored now; a broken one fails the deployment with the reason.
    for (const w of plan.weights) {
      if (w.kind !== 'upload') continue;
      const upload = request.uploads.get(w.field)!;
      const reason = await this.storage.problem(w.part, upload, w.sha256);
      if (reason !== null) return this.fail(record, reason, weights, by);
      await this.storage.store(upload);
      weights[w.part] = { sha256: upload.sha256, bytes: upload.bytes };
    }
    if (byUrl) {
      await this.puller.offer(record);
      return this.sync.changed((await this.store.find(record.id)) ?? record);
    }
    const warming = await this.store.transition(record.id, ['pulling'], 'warming', by, { weights });
    return this.sync.changed(warming ?? record);
  }

  async update(name: string, version: string, body: unknown, by: DeploymentActor): Promise<DeploymentView> {
    const parsed = deploymentMutableSchema.safeParse(body);
    if (!parsed.success) {
      const unknown = parsed.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys : []));
      if (unknown.length > 0)
        throw new FathomError(
          ErrorCode.InvalidRequest,
          `PUT changes only ${Object.keys(deploymentMutableSchema.shape).join(', ')}; ${unknown.join(', ')} cannot change in place: ` +
            `register a new version (POST /v1/admin/models) with the new manifest.`,
          { fields: unknown },
        );
      throw new FathomError(
        ErrorCode.InvalidRequest,
        'The change is invalid.',
        parsed.error.issues.map(({ path, message }) => ({ path, message })),
      );
    }
    const change: DeploymentMutable = parsed.data;
    const current = await this.store.get(name, version);
    if (change.defaults !== undefined) {
      const options = taskOptionsSchemas[current.task].safeParse(change.defaults);
      if (!options.success)
        throw new FathomError(
          ErrorCode.InvalidOptions,
          `defaults are not valid options of the ${current.task} task.`,
          options.error.issues.map(({ path, message }) => ({ path: ['defaults', ...path], message })),
        );
    }
    if (current.source !== 'local') {
      // What workers will read (the manifest with the change applied) must pass the manifest schema: batching's bounds, a tiled task's batch of 1.
      const issues = registeredManifestIssues(
        desiredOf({
          ...current,
          ...(change.description !== undefined ? { description: change.description } : {}),
          ...(change.defaults !== undefined ? { defaults: change.defaults } : {}),
          ...(change.batching !== undefined
            ? { batching: { maxBatch: change.batching.maxBatch, maxDelayMs: change.batching.maxDelayMs ?? DEFAULT_BATCH_DELAY_MS } }
            : {}),
        }).manifest,
      );
      if (issues !== null) throw new FathomError(ErrorCode.InvalidRequest, `The change would make an invalid manifest: ${issues}.`);
    }
    const record = await this.store.update(name, version, change, by);
    this.logger.log({ msg: 'deployment updated', id: record.id, model: `${name}@${version}`, revision: record.revision });
    return this.sync.changed(record);
  }

  /**
   * Retires name@version: refused (409 deployment_in_use) while an alias points at it; else it
   * takes no new jobs from now on (resolution refuses it), its queues drain (or, `drain` false,
   * their waiting jobs fail model_retired), and the reconciler marks it retired once they are empty.
   */
  async retire(name: string, version: string, drain: boolean, by: DeploymentActor): Promise<DeploymentView> {
    const current = await this.store.get(name, version);
    const rollout = (await this.rollouts.get(name)) ?? DEFAULT_ROLLOUT;
    for (const alias of ['stable', 'canary'] as const) {
      if (rollout.aliases[alias] === version)
        throw new FathomError(
          ErrorCode.DeploymentInUse,
          `${name}@${version} is the ${alias} alias: point ${alias} at another version first (PUT /v1/admin/models/${name}/aliases/${alias}` +
            `${alias === 'canary' ? `, or DELETE /v1/admin/models/${name}/aliases/canary` : ''}).`,
          { alias },
        );
    }
    if (current.state === 'retiring' || current.state === 'retired') return this.sync.changed(current);
    const from: DeploymentState[] = LIVE_DEPLOYMENT_STATES.filter((s) => s !== 'retiring');
    const retiring = await this.store.transition(current.id, from, 'retiring', by, { reason: null });
    if (!retiring) return this.sync.changed((await this.store.find(current.id)) ?? current);
    const view = await this.sync.changed(retiring);
    this.logger.log({ msg: 'deployment retiring', id: retiring.id, model: `${name}@${version}`, drain });
    if (!drain) await this.failWaiting(retiring);
    return view;
  }

  /** ?drain=false: every job still waiting in the version's queues fails model_retired (queued jobs only; running ones finish). */
  private async failWaiting(record: DeploymentRecord): Promise<void> {
    // A BullMQ Worker's connection (maxRetriesPerRequest: null), for this one sweep.
    const connection = createRedisConnection(redisSettings(this.config), 'blocking', { connectionName: 'fathom-retire' });
    try {
      for (const queue of queuesOf(record)) {
        const failed = await failWaitingJobs(queue, connection, this.config.REDIS_PREFIX, {
          code: ErrorCode.ModelRetired,
          message: `${record.name}@${record.version} was retired (DELETE with ?drain=false) while this job waited; submit it to a version that is served (GET /v1/models).`,
        });
        // As a cancellation does (JobCanceller): the input goes, the key gets its place back at once.
        await Promise.all(
          failed.flatMap((job) => [
            ...(job.data.input?.blobKey ? [this.blobs.delete(job.data.input.blobKey).catch(() => undefined)] : []),
            ...(job.data.keyId ? [this.inFlight.ended(job.data.keyId, { id: job.id, queue }).catch(() => undefined)] : []),
          ]),
        );
        if (failed.length > 0) this.logger.log({ msg: 'waiting jobs failed model_retired', queue, jobs: failed.length });
      }
    } finally {
      await connection.quit().catch(() => connection.disconnect());
    }
  }

  async list(state: DeploymentState | undefined, limit: number): Promise<DeploymentView[]> {
    const [records, workers] = await Promise.all([
      this.store.list({ ...(state ? { states: [state] } : {}), limit }),
      this.models.liveWorkers().catch(() => []),
    ]);
    return this.sync.views(records, workers);
  }

  async get(name: string, version: string): Promise<DeploymentView> {
    const [record, workers] = await Promise.all([this.store.get(name, version), this.models.liveWorkers().catch(() => [])]);
    return this.sync.views([record], workers)[0]!;
  }

  async describe(name: string): Promise<ModelDeployments> {
    const [records, workers, audit] = await Promise.all([
      this.store.list({ name }),
      this.models.liveWorkers().catch(() => []),
      this.store.history(name),
    ]);
    let rollout: ModelRollout;
    try {
      rollout = await this.rollout.describe(name);
    } catch (error) {
      if (!(error instanceof FathomError && error.code === ErrorCode.ModelNotFound) || records.length === 0) throw error;
      rollout = {
        name,
        task: records[0]!.task,
        versions: [],
        aliases: { stable: null, canary: null },
        weights: DEFAULT_ROLLOUT.weights,
        history: [],
        log: [],
      };
    }
    return { ...rollout, deployments: this.sync.views(records, workers), audit };
  }

  private async fail(
    record: DeploymentRecord,
    reason: string,
    weights: Record<string, DeploymentWeights>,
    by: DeploymentActor,
  ): Promise<DeploymentView> {
    this.logger.warn({ msg: 'deployment failed', id: record.id, model: `${record.name}@${record.version}`, reason });
    const failed = await this.store.transition(record.id, ['pending', 'pulling'], 'failed', by, { reason, weights });
    return this.sync.changed(failed ?? record);
  }
}
