import type { RedisClient } from './redis-connection';
import { knownModelSchema, modelKey, workerHeartbeatSchema, type KnownModel, type WorkerHeartbeat } from '@fathom/contracts';
import { redisKeys } from './redis-keys';

/** Heartbeat entries are kept this many TTLs (and at least 10 min) so an outage does not erase them. */
const RETAIN_TTLS = 10;
const MIN_RETAIN_MS = 10 * 60_000;

/**
 * Live workers and the models they serve. Each worker records its heartbeat (and its time, in an
 * index) every few seconds.
 *
 * The rule: a worker is gone once it has missed beats for `ttlMs` *while Redis was answering*.
 * Its heartbeat's age is counted from its last beat or from when Redis last became reachable
 * again (`reachableSince`, from this process's RedisAvailability), whichever is later:
 * `alive ⇔ now − max(lastBeat, reachableSince) < ttlMs`. So an outage of any length never expires
 * a worker by itself: after it, every worker has a full TTL to beat again (workers re-announce as
 * soon as Redis answers, so in practice at once), and only one that stays silent is dropped. A
 * worker that died during the outage is therefore counted alive for up to one TTL afterwards;
 * jobs routed to it wait in its queue for the next worker (none is lost).
 *
 * That is why the entries do not expire after `ttlMs` in Redis itself (Redis would expire them
 * during a SIGSTOP, its clock running on): they are kept RETAIN_TTLS × ttlMs (≥ 10 min), and
 * liveness is decided here, from the index's beat times.
 */
export class WorkerRegistry {
  private readonly keys;
  private readonly retainMs: number;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly ttlMs: number,
    private readonly reachableSince: () => number = () => 0,
  ) {
    this.keys = redisKeys(prefix);
    this.retainMs = Math.max(RETAIN_TTLS * ttlMs, MIN_RETAIN_MS);
  }

  async heartbeat(heartbeat: WorkerHeartbeat, now = Date.now()): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.worker(heartbeat.workerId), JSON.stringify(heartbeat), 'PX', this.retainMs)
      .zadd(this.keys.workersIndex, now, heartbeat.workerId)
      .zremrangebyscore(this.keys.workersIndex, '-inf', now - this.retainMs)
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
    // Beats older than the TTL still count when Redis came back less than a TTL ago (see the rule above).
    const cameBackRecently = now - this.reachableSince() < this.ttlMs;
    const ids = await this.redis.zrangebyscore(this.keys.workersIndex, cameBackRecently ? now - this.retainMs : now - this.ttlMs, '+inf');
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
