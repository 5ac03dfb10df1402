import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { RedisLease, redisKeys, type RedisClient } from '@fathom/queue';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { REDIS } from '../infrastructure/redis.providers';
import { DriftMetrics } from './drift-metrics';
import { DriftService } from './drift.service';

/**
 * Scores drift every API_DRIFT_INTERVAL_MS on one instance of the cluster: the holder of a Redis
 * lease (RedisLease, renewed while held; another instance takes it once the holder stops). Each
 * round compares every version that has a reference with its latest production window and sets
 * the drift gauges; an instance without the lease exports none.
 */
@Injectable()
export class DriftMonitor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DriftMonitor.name);
  private readonly owner = randomUUID();
  private readonly key: string;
  private lease: RedisLease | null = null;
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  /** `model@version side` flagged in the last round: what is logged is the change. */
  private readonly flagged = new Set<string>();

  constructor(
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(DriftService) private readonly drift: DriftService,
    @Inject(DriftMetrics) private readonly metrics: DriftMetrics,
  ) {
    this.key = redisKeys(config.REDIS_PREFIX).driftMonitor;
  }

  onApplicationBootstrap(): void {
    const tick = () => {
      this.round = this.tick().finally(() => {
        this.timer = setTimeout(tick, this.config.API_DRIFT_INTERVAL_MS);
        this.timer.unref();
      });
    };
    tick();
  }

  async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.timer);
    await this.round;
    await this.lease?.release();
  }

  /** One round: keep (or take) the lease, then score; without it, export nothing. */
  async tick(): Promise<void> {
    if (this.lease?.lost) {
      // Its timer stops; the key is deleted only if it is still ours.
      void this.lease.release();
      this.lease = null;
    }
    // The lease outlives a few missed rounds, not many: another instance takes over within ~3 intervals.
    this.lease ??= await RedisLease.take(this.redis, this.key, this.owner, Math.max(5_000, 3 * this.config.API_DRIFT_INTERVAL_MS));
    if (!this.lease) {
      this.metrics.clear();
      return;
    }
    try {
      const scored = await this.drift.allDrift();
      // Lost while scoring (another instance may be exporting now): export nothing this round.
      if (this.lease.lost) {
        this.metrics.clear();
        return;
      }
      this.metrics.roundScored(
        scored.map(({ model, version, drift }) => ({ model, version, rows: drift.window.rows, report: drift.report })),
      );
      // Logged when a side starts or stops drifting, not every round.
      for (const { model, version, drift } of scored) {
        for (const side of ['input', 'output'] as const) {
          const key = `${model}@${version} ${side}`;
          const flagged = drift.report?.flagged[side] === true;
          if (flagged === this.flagged.has(key)) continue;
          if (flagged) this.flagged.add(key);
          else this.flagged.delete(key);
          const top = drift.report?.features.filter((f) => f.side === side && f.drift !== null).sort((a, b) => b.drift! - a.drift!)[0];
          this.logger[flagged ? 'warn' : 'log']({
            msg: flagged ? `${side} drift` : `${side} drift over`,
            model,
            version,
            score: drift.report?.scores[side] ?? null,
            feature: top?.name,
            psi: top?.psi,
            windowPredictions: drift.window.rows,
          });
        }
      }
    } catch (error) {
      // The database or Redis away: the gauges keep the last round's values until the next round.
      this.logger.warn({ msg: 'drift not scored this round', error: error instanceof Error ? error.message : String(error) });
    }
  }
}
