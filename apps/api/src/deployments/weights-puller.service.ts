import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DeploymentStore, type DeploymentRecord, type DeploymentWeights } from '@fathom/database';
import { downloadWeights, WeightsDownloadError } from '@fathom/models';
import { RedisLease, redisKeys, type RedisClient } from '@fathom/queue';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { REDIS } from '../infrastructure/redis.providers';
import { DeploymentSync } from './deployment-sync.service';
import { partName, WeightsStorage } from './weights-storage';

/** How long a pull's lock outlives its instance; renewed a third of it. */
const PULL_LOCK_MS = 30_000;
/** A URL that sends nothing for this long fails the pull. */
const PULL_STALL_MS = 60_000;

/** The reconciler's and the pull's actor in the audit log. */
export const API_ACTOR = { actor: 'api' } as const;

/**
 * Pulls the weights of deployments registered by URL (pending → pulling → warming, or failed with
 * the exact reason: the URL's HTTP status, a checksum mismatch with both digests, a Git LFS pointer
 * or an HTML page), verifies them and stores them in the object store. One instance pulls each: the
 * accepting one at once, and after a restart any instance (the reconciler offers every pending or
 * pulling deployment each tick), under a Redis lock with a TTL that the puller renews.
 */
@Injectable()
export class WeightsPuller implements OnApplicationShutdown {
  private readonly logger = new Logger(WeightsPuller.name);
  private readonly keys;
  private readonly owner = randomUUID();
  private readonly pulls = new Map<string, { done: Promise<void>; abort: AbortController }>();

  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(API_CONFIG) config: ApiConfig,
    @Inject(DeploymentStore) private readonly store: DeploymentStore,
    @Inject(WeightsStorage) private readonly storage: WeightsStorage,
    @Inject(DeploymentSync) private readonly sync: DeploymentSync,
  ) {
    this.keys = redisKeys(config.REDIS_PREFIX);
  }

  /** Starts pulling the deployment's weights here unless this or another instance is at it. */
  async offer(record: Pick<DeploymentRecord, 'id'>): Promise<void> {
    if (this.pulls.has(record.id)) return;
    const lease = await RedisLease.take(this.redis, this.keys.deploymentPull(record.id), this.owner, PULL_LOCK_MS);
    if (!lease) return;
    const abort = new AbortController();
    const done = this.pull(record.id, abort.signal)
      .catch((error: Error) =>
        this.logger.warn({ msg: 'weights pull stopped; another instance resumes it', id: record.id, error: error.message }),
      )
      .finally(async () => {
        this.pulls.delete(record.id);
        await lease.release();
      });
    this.pulls.set(record.id, { done, abort });
  }

  /** Resolves once the pulls of this instance have ended (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.pulls.values()].map((p) => p.done));
  }

  async onApplicationShutdown(): Promise<void> {
    for (const pull of this.pulls.values()) pull.abort.abort();
    await this.settled();
  }

  private async pull(id: string, signal: AbortSignal): Promise<void> {
    let record = await this.store.find(id);
    if (record?.state === 'pending') {
      record = await this.store.transition(id, ['pending'], 'pulling', API_ACTOR);
      if (record) await this.sync.changed(record);
    }
    if (record?.state !== 'pulling') return;
    const dir = await mkdtemp(join(tmpdir(), 'fathom-pull-'));
    try {
      const weights: Record<string, DeploymentWeights> = { ...record.weights };
      for (const [part, source] of Object.entries(record.weights)) {
        if (source.url === undefined || source.bytes > 0) continue;
        const dest = join(dir, source.sha256);
        let reason: string | null;
        try {
          const started = Date.now();
          const downloaded = await downloadWeights({ url: source.url, sha256: source.sha256, dest, timeoutMs: PULL_STALL_MS, signal });
          const file = { path: dest, bytes: (await stat(dest)).size, sha256: source.sha256 };
          reason = await this.storage.problem(part, file);
          if (reason === null) {
            await this.storage.store(file);
            weights[part] = { ...source, bytes: downloaded.bytes };
            this.logger.log({ msg: 'weights pulled', id, part, url: source.url, bytes: downloaded.bytes, ms: Date.now() - started });
          }
        } catch (error) {
          if (!(error instanceof WeightsDownloadError) || error.code === 'aborted') throw error;
          reason = `${partName(part)}: ${error.message}`;
        }
        if (reason !== null) {
          const failed = await this.store.transition(id, ['pulling'], 'failed', API_ACTOR, { reason, weights });
          if (failed) await this.sync.changed(failed);
          return;
        }
        await rm(dest, { force: true });
      }
      const warming = await this.store.transition(id, ['pulling'], 'warming', API_ACTOR, { weights });
      if (warming) await this.sync.changed(warming);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
