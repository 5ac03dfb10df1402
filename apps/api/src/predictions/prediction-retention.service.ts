import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ErrorCode, FathomError } from '@fathom/contracts';
import { PredictionStore } from '@fathom/database';
import { RedisLease, redisKeys, type RedisClient } from '@fathom/queue';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { REDIS } from '../infrastructure/redis.providers';
import { ServedModelsService } from '../models/catalog/served-models.service';
import { PredictionMetrics } from './prediction-metrics';

/** Rows per DELETE: small enough that no statement holds many row locks or runs long. */
const DELETE_BATCH = 1_000;
const DAY_MS = 86_400_000;

/**
 * Deletes prediction-log rows older than their model's retention (issue 15): the largest
 * `predictions.retentionDays` any declared version of the model states in its manifest, else
 * API_PREDICTION_RETENTION_DAYS. Every API instance ticks each API_PREDICTION_RETENTION_INTERVAL_MS;
 * the one that takes the round's Redis lease deletes, model by model in batches, and keeps the
 * lease until it expires, so the cluster runs one round per interval.
 */
@Injectable()
export class PredictionRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PredictionRetention.name);
  private readonly owner = randomUUID();
  private readonly key: string;
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(PredictionStore) private readonly store: PredictionStore,
    @Inject(ServedModelsService) private readonly models: ServedModelsService,
    @Inject(PredictionMetrics) private readonly metrics: PredictionMetrics,
  ) {
    this.key = redisKeys(config.REDIS_PREFIX).predictionRetention;
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running ??= this.roundIfLeader()
        .catch((error: Error) =>
          this.logger.warn({ msg: 'prediction retention round failed; the next round tries again', error: error.message }),
        )
        .finally(() => (this.running = undefined));
    }, this.config.API_PREDICTION_RETENTION_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One round, when this instance takes its lease; rows deleted per model (null: another instance's round). */
  async roundIfLeader(now = Date.now()): Promise<Map<string, number> | null> {
    // A little shorter than the interval: the next tick finds it expired, not a millisecond from it.
    const lease = await RedisLease.take(
      this.redis,
      this.key,
      this.owner,
      Math.floor(this.config.API_PREDICTION_RETENTION_INTERVAL_MS * 0.9),
    );
    if (!lease) return null;
    try {
      const deleted = new Map<string, number>();
      // No model declared at all is Redis having lost its catalog, or nothing started yet, not every
      // model retired: deleting by the default then could take rows a manifest keeps longer.
      if ((await this.models.listings()).length === 0) {
        this.logger.warn({ msg: 'prediction retention skipped: no model is declared yet (workers not up, or Redis lost its catalog)' });
        return deleted;
      }
      for (const model of await this.store.models()) {
        if (lease.lost) break;
        const days = await this.retentionDays(model);
        const before = new Date(now - days * DAY_MS);
        const count = await this.store.deleteOlderThan({ model, before, batch: DELETE_BATCH });
        deleted.set(model, count);
        if (count > 0) {
          this.metrics.expiredRowsDeleted(model, count);
          this.logger.log({
            msg: 'expired prediction-log rows deleted',
            model,
            deleted: count,
            retentionDays: days,
            before: before.toISOString(),
          });
        }
      }
      return deleted;
    } finally {
      // Held until it expires: no other instance starts a round within this interval.
      lease.keep();
    }
  }

  /** The model's retention in days: the largest its declared versions' manifests state, else the API's default. */
  async retentionDays(model: string): Promise<number> {
    let declared: number[] = [];
    try {
      declared = (await this.models.declarations(model)).declared.flatMap((m) => (m.predictions ? [m.predictions.retentionDays] : []));
    } catch (error) {
      // A model no worker or deployment declares any more keeps the default.
      if (!(error instanceof FathomError) || error.code !== ErrorCode.ModelNotFound) throw error;
    }
    return declared.length > 0 ? Math.max(...declared) : this.config.API_PREDICTION_RETENTION_DAYS;
  }
}
