import type { Redis } from 'ioredis';
import { knownModelSchema, modelKey, workerHeartbeatSchema, type KnownModel, type WorkerHeartbeat } from '@fathom/contracts';
import { redisKeys } from './redis-keys';

/**
 * Live workers and the models they serve. Each worker refreshes its entry every few seconds; an
 * entry not refreshed within `ttlMs` is not alive (a killed worker disappears on its own).
 */
export class WorkerRegistry {
  private readonly keys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly ttlMs: number,
  ) {
    this.keys = redisKeys(prefix);
  }

  async heartbeat(heartbeat: WorkerHeartbeat, now = Date.now()): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.worker(heartbeat.workerId), JSON.stringify(heartbeat), 'PX', this.ttlMs)
      .zadd(this.keys.workersIndex, now, heartbeat.workerId)
      .zremrangebyscore(this.keys.workersIndex, '-inf', now - this.ttlMs)
      .exec();
  }

  /**
   * Records the models a worker declares, including those it cannot serve yet (weights not pulled),
   * so the API can tell "no such model" (404) from "known, but no worker serves it now" (422).
   */
  async declare(models: KnownModel[]): Promise<void> {
    if (models.length === 0) return;
    await this.redis.hset(this.keys.catalog, Object.fromEntries(models.map((m) => [knownModelKey(m), JSON.stringify(m)])));
  }

  async knownModels(): Promise<KnownModel[]> {
    return Object.values(await this.redis.hgetall(this.keys.catalog)).flatMap((entry) => {
      const parsed = knownModelSchema.safeParse(JSON.parse(entry));
      return parsed.success ? [parsed.data] : [];
    });
  }

  async remove(workerId: string): Promise<void> {
    await this.redis.multi().del(this.keys.worker(workerId)).zrem(this.keys.workersIndex, workerId).exec();
  }

  async liveWorkers(now = Date.now()): Promise<WorkerHeartbeat[]> {
    const ids = await this.redis.zrangebyscore(this.keys.workersIndex, now - this.ttlMs, '+inf');
    if (ids.length === 0) return [];
    const raw = await this.redis.mget(ids.map((id) => this.keys.worker(id)));
    return raw.flatMap((entry) => {
      if (entry === null) return [];
      const parsed = workerHeartbeatSchema.safeParse(JSON.parse(entry));
      return parsed.success ? [parsed.data] : [];
    });
  }
}

export function knownModelKey(model: Pick<KnownModel, 'name' | 'version' | 'variant'>): string {
  return modelKey(model.name, model.version, model.variant);
}
