import type { RedisClient } from './redis-connection';
import { DEFAULT_ROLLOUT, rolloutChangeSchema, rolloutStateSchema, type RolloutChange, type RolloutState } from '@fathom/contracts';
import { redisKeys } from './redis-keys';

/** Changes kept per model in its rollout log. */
const LOG_LENGTH = 200;

/**
 * Each model's rollout (aliases, traffic weights, earlier stables) in Redis, read on every
 * submission so a change is effective at once on every API instance. Changes are optimistic
 * transactions (WATCH): two operators moving the same alias at once cannot lose an update.
 */
export class RolloutStore {
  private readonly keys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = redisKeys(prefix);
  }

  async get(model: string): Promise<RolloutState | null> {
    const raw = await this.read(this.redis, model);
    return raw === null ? null : rolloutStateSchema.parse(JSON.parse(raw));
  }

  /** The model's rollout as stored, or as an earlier Fathom stored it (untagged key) until the next change moves it. */
  private async read(redis: RedisClient, model: string): Promise<string | null> {
    return (await redis.get(this.keys.rollout(model))) ?? (await redis.get(this.keys.untaggedRollout(model)));
  }

  /** Applies `change` to the current state and appends it to the log, atomically. */
  async update(
    model: string,
    keyId: string,
    action: RolloutChange['action'],
    change: (state: RolloutState) => RolloutState,
    /** Kept in the log entry beside the change: a forced promotion's reason, a passed gate's figures. */
    extra: Pick<RolloutChange, 'reason' | 'gate'> = {},
  ): Promise<RolloutChange> {
    const key = this.keys.rollout(model);
    // WATCH belongs to a connection: a connection of its own, so other requests cannot clear it.
    const redis = this.redis.duplicate();
    try {
      for (;;) {
        await redis.watch(key);
        const raw = await this.read(redis, model);
        const before = raw === null ? DEFAULT_ROLLOUT : rolloutStateSchema.parse(JSON.parse(raw));
        const after = rolloutStateSchema.parse(change(structuredClone(before)));
        const entry: RolloutChange = { at: new Date().toISOString(), keyId, action, before, after, ...extra };
        const done = await redis
          .multi()
          .set(key, JSON.stringify(after))
          .lpush(this.keys.rolloutLog(model), JSON.stringify(entry))
          .ltrim(this.keys.rolloutLog(model), 0, LOG_LENGTH - 1)
          .exec();
        if (done !== null) return entry; // null: someone else changed it first; read again
      }
    } finally {
      redis.disconnect();
    }
  }

  /** Newest first. */
  async log(model: string, limit = 50): Promise<RolloutChange[]> {
    const entries = await this.redis.lrange(this.keys.rolloutLog(model), 0, limit - 1);
    return entries.map((entry) => rolloutChangeSchema.parse(JSON.parse(entry)));
  }
}
