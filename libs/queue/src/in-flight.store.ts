import type { RedisClient } from './redis-connection';
import type { BullmqLayout } from './bullmq-layout';
import { redisKeys } from './redis-keys';

/** A job as the quota counts it: its queue is needed to check its BullMQ state. */
export interface InFlightJob {
  id: string;
  queue: string;
}

export type InFlightAdmission = { admitted: true } | { admitted: false; inFlight: number };

/**
 * How long after its admission a job is counted without looking at BullMQ: between the admission
 * and `queue.add` the job has no BullMQ hash yet and would read as ended.
 */
export const IN_FLIGHT_SETTLE_MS = 60_000;

/** Reserves a place if the key has fewer than ARGV[1] jobs: nothing is written when it is full. */
const ADMIT = `
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[1]) then return count end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return -1
`;

interface AdmitCommand {
  fathomAdmitInFlight(key: string, limit: number, score: number, member: string, ttlMs: number): Promise<number>;
}

/**
 * Each API key's jobs queued or running, shared by every API instance and worker through Redis: a
 * sorted set of jobs per key. The API admits a job (atomically, under the key's limit) before it
 * writes anything else; the worker gives the place back when BullMQ records the job's end, the
 * API when it cancels one. A process that dies in between leaves a stale member: when a key looks
 * full, its members' BullMQ states are checked and the ended ones dropped (`heal`).
 */
export class InFlightStore {
  private readonly keys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly layout: BullmqLayout,
    /** The set expires this long after the key's last admission: no key's count outlives its jobs' retention. */
    private readonly ttlSeconds: number,
  ) {
    this.keys = redisKeys(prefix);
    if (!(redis as Partial<AdmitCommand>).fathomAdmitInFlight) redis.defineCommand('fathomAdmitInFlight', { numberOfKeys: 1, lua: ADMIT });
  }

  /**
   * Counts `job` against `keyId`'s `limit`, or refuses it (writing nothing) when the key already
   * has that many jobs in flight once ended ones are dropped. Soft only across a heal: jobs
   * admitted at once by several instances never exceed the limit.
   */
  async admit(keyId: string, job: InFlightJob, limit: number, now = Date.now()): Promise<InFlightAdmission> {
    const first = await this.tryAdmit(keyId, job, limit, now);
    if (first < 0) return { admitted: true };
    if ((await this.heal(keyId, now)) === 0) return { admitted: false, inFlight: first };
    const second = await this.tryAdmit(keyId, job, limit, now);
    return second < 0 ? { admitted: true } : { admitted: false, inFlight: second };
  }

  /** Gives the job's place back: it ended, was cancelled, or was never queued. Idempotent. */
  async ended(keyId: string, job: InFlightJob): Promise<void> {
    await this.redis.zrem(this.keys.inFlight(keyId), member(job));
  }

  /** The key's jobs in flight as counted now (ended ones not yet dropped included). */
  async count(keyId: string): Promise<number> {
    return this.redis.zcard(this.keys.inFlight(keyId));
  }

  /**
   * Drops the key's members that BullMQ says have ended (older than IN_FLIGHT_SETTLE_MS, so a job
   * between its admission and its `queue.add` is not taken for ended); returns how many.
   */
  async heal(keyId: string, now = Date.now()): Promise<number> {
    const key = this.keys.inFlight(keyId);
    const settled = await this.redis.zrangebyscore(key, '-inf', now - IN_FLIGHT_SETTLE_MS);
    const byQueue = new Map<string, InFlightJob[]>();
    for (const raw of settled) {
      const job = parseMember(raw);
      if (!job) continue;
      byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);
    }
    const ended = settled.filter((raw) => !parseMember(raw)); // not ours: never counted
    for (const [queue, jobs] of byQueue) {
      const unfinished = await this.layout.unfinishedJobs(
        queue,
        jobs.map((job) => job.id),
      );
      ended.push(...jobs.filter((job) => !unfinished.has(job.id)).map(member));
    }
    if (ended.length === 0) return 0;
    return this.redis.zrem(key, ...ended);
  }

  private tryAdmit(keyId: string, job: InFlightJob, limit: number, now: number): Promise<number> {
    return (this.redis as unknown as AdmitCommand).fathomAdmitInFlight(
      this.keys.inFlight(keyId),
      limit,
      now,
      member(job),
      this.ttlSeconds * 1000,
    );
  }
}

/** The member names the queue too: the heal needs it to find the job in BullMQ. */
function member(job: InFlightJob): string {
  return JSON.stringify([job.queue, job.id]);
}

function parseMember(raw: string): InFlightJob | undefined {
  try {
    const parsed: unknown = JSON.parse(raw);
    if (Array.isArray(parsed) && typeof parsed[0] === 'string' && typeof parsed[1] === 'string') return { queue: parsed[0], id: parsed[1] };
  } catch {
    // not a member this store wrote
  }
  return undefined;
}
