import { desiredDeploymentSchema, type DesiredDeployment } from '@fathom/contracts';
import type { RedisClient } from './redis-connection';
import { redisKeys } from './redis-keys';

/** Change notices kept in the stream: a worker that misses some re-reads the whole hash anyway. */
const CHANGES_KEPT = 1_000;

/**
 * What workers may load, mirrored from the deployments table (PostgreSQL, the source of truth) into
 * Redis so that workers need no database (ADR 0015): a hash of DesiredDeployment by id, and a
 * stream that rings on every change. Workers read the hash at start and whenever the stream moves
 * (XREAD BLOCK on a connection of their own), never per job. The API rewrites the whole hash at
 * start (`replaceAll`), so a flushed Redis is repaired from PostgreSQL.
 */
export class DeploymentMirror {
  private readonly keys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = redisKeys(prefix);
  }

  /** Adds or replaces one deployment and rings. */
  async put(deployment: DesiredDeployment): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.deployments, deployment.id, JSON.stringify(desiredDeploymentSchema.parse(deployment)))
      .xadd(this.keys.deploymentChanges, 'MAXLEN', '~', CHANGES_KEPT, '*', 'id', deployment.id, 'revision', String(deployment.revision))
      .exec()
      .then(failedInMulti);
  }

  /** Drops one deployment (retired, failed) and rings: workers unload it. */
  async remove(id: string): Promise<void> {
    await this.redis
      .multi()
      .hdel(this.keys.deployments, id)
      .xadd(this.keys.deploymentChanges, 'MAXLEN', '~', CHANGES_KEPT, '*', 'id', id, 'revision', 'removed')
      .exec()
      .then(failedInMulti);
  }

  /** The whole set, as PostgreSQL has it now (API start-up): what is not in `all` is removed. */
  async replaceAll(all: DesiredDeployment[]): Promise<void> {
    const tx = this.redis.multi().del(this.keys.deployments);
    if (all.length > 0)
      tx.hset(this.keys.deployments, Object.fromEntries(all.map((d) => [d.id, JSON.stringify(desiredDeploymentSchema.parse(d))])));
    await tx.xadd(this.keys.deploymentChanges, 'MAXLEN', '~', CHANGES_KEPT, '*', 'id', '*', 'revision', 'all').exec().then(failedInMulti);
  }

  /** Every deployment workers may load; an entry an older or newer Fathom wrote that does not parse is left out. */
  async readAll(): Promise<DesiredDeployment[]> {
    return Object.values(await this.redis.hgetall(this.keys.deployments)).flatMap((raw) => {
      const parsed = desiredDeploymentSchema.safeParse(JSON.parse(raw));
      return parsed.success ? [parsed.data] : [];
    });
  }

  /** The id of the latest change notice ('0' when there is none): where a watcher starts. */
  async lastChangeId(): Promise<string> {
    const [last] = (await this.redis.xrevrange(this.keys.deploymentChanges, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
    return last?.[0] ?? '0';
  }

  /**
   * Waits up to `blockMs` for a change notice after `afterId` on `blocking` (a connection of its
   * own, 'blocking' role: no command timeout); returns the newest notice's id, or `afterId` when
   * none came.
   */
  async waitForChange(blocking: RedisClient, afterId: string, blockMs: number): Promise<string> {
    const reply = await blocking.xread('COUNT', 100, 'BLOCK', blockMs, 'STREAMS', this.keys.deploymentChanges, afterId);
    const entries = reply?.[0]?.[1] ?? [];
    return entries.at(-1)?.[0] ?? afterId;
  }
}

/** ioredis answers a MULTI with [error, result] pairs: the first error is thrown. */
function failedInMulti(results: Array<[Error | null, unknown]> | null): void {
  const error = results?.find(([e]) => e)?.[0];
  if (error) throw error;
}
