import type { RedisClient } from './redis-connection';

/** Renews the lease while `owner` holds it; 0 when another holder has it (or it expired). */
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
/** Deletes the lease only if `owner` still holds it. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * A lease in Redis that one holder keeps at a time (a weights pull, an evaluation run): taken with
 * SET NX PX, renewed on a timer at a third of its length while held, given back on release; a
 * holder that stops is replaced once the lease expires. `lost` turns true when a renewal finds it
 * held by someone else (or gone), so the work stops rather than run twice.
 */
export class RedisLease {
  private timer?: NodeJS.Timeout;
  private lostIt = false;
  private kept = false;
  /** When it was taken or last renewed. */
  private renewedAt = Date.now();

  private constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    private readonly owner: string,
    private readonly ttlMs: number,
  ) {}

  /** The lease, or null when someone else holds it (or Redis did not answer). */
  static async take(redis: RedisClient, key: string, owner: string, ttlMs: number): Promise<RedisLease | null> {
    const taken = await redis.set(key, owner, 'PX', ttlMs, 'NX').catch(() => null);
    if (taken !== 'OK') return null;
    const lease = new RedisLease(redis, key, owner, ttlMs);
    lease.timer = setInterval(() => void lease.renew(), Math.max(1, Math.floor(ttlMs / 3)));
    lease.timer.unref();
    return lease;
  }

  /** True once a renewal found it held by another, or no renewal has got through for a whole lease (it may have expired and been taken). */
  get lost(): boolean {
    return this.lostIt || (this.timer !== undefined && !this.kept && Date.now() - this.renewedAt > this.ttlMs);
  }

  private async renew(): Promise<void> {
    // An unanswered renewal is not a loss: the next one may get through before the lease expires.
    const asked = Date.now();
    const renewed = await this.redis.eval(RENEW, 1, this.key, this.owner, this.ttlMs).catch(() => null);
    if (renewed === 1) this.renewedAt = asked;
    if (renewed === 0) {
      this.lostIt = true;
      clearInterval(this.timer);
    }
  }

  /**
   * Stops renewing without giving the lease back: it stays taken until its TTL runs out, so a
   * periodic job that holds it for a round keeps other instances from starting another round
   * within the period.
   */
  keep(): void {
    this.kept = true;
    clearInterval(this.timer);
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.eval(RELEASE, 1, this.key, this.owner).catch(() => undefined);
  }
}
