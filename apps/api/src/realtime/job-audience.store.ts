import { Inject, Injectable } from '@nestjs/common';
import { redisKeys, type RedisKeys, type RedisClient } from '@fathom/queue';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { REDIS } from '../infrastructure/redis.providers';

/** Unheard-event markers only need to outlive the events of one job. */
const UNHEARD_MARK_SECONDS = 3600;

// Counts once cluster-wide: unheard only when no client subscribed on any instance, and only the
// first instance to claim the (job, event) pair counts it.
const CLAIM_UNHEARD = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then return 1 end
return 0`;

/** The connection with CLAIM_UNHEARD as a command: sent once, then run by its SHA (EVALSHA). */
type WithClaimUnheard = RedisClient & { fathomClaimUnheard(watchedKey: string, markKey: string, markSeconds: number): Promise<number> };

/**
 * Which jobs any client, on any API instance, subscribed to. Every instance relays every job's
 * events, so "no listener on this instance" alone would count an event heard elsewhere as unheard
 * once per other instance; this makes `fathom_ws_events_unheard_total` a cluster-wide count.
 */
@Injectable()
export class JobAudience {
  private readonly keys: RedisKeys;
  private readonly retentionSeconds: number;

  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(API_CONFIG) config: ApiConfig,
  ) {
    this.keys = redisKeys(config.REDIS_PREFIX);
    this.retentionSeconds = config.STORAGE_RETENTION_SECONDS;
    redis.defineCommand('fathomClaimUnheard', { numberOfKeys: 2, lua: CLAIM_UNHEARD });
  }

  async subscribed(jobId: string): Promise<void> {
    await this.redis.set(this.keys.watchedJob(jobId), '1', 'EX', this.retentionSeconds);
  }

  /** True for exactly one instance, when nobody subscribed to the job anywhere. */
  async claimUnheard(jobId: string, event: string): Promise<boolean> {
    const claimed = await (this.redis as WithClaimUnheard).fathomClaimUnheard(
      this.keys.watchedJob(jobId),
      this.keys.unheardEvent(jobId, event),
      UNHEARD_MARK_SECONDS,
    );
    return claimed === 1;
  }
}
