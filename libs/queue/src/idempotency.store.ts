import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redisKeys } from './redis-keys';

export type IdempotencyClaim = { claimed: true } | { claimed: false; jobId: string; fingerprint: string };

/**
 * Maps an `Idempotency-Key` to the job it created, atomically (SET NX), for as long as the job is
 * retained. The fingerprint of the request lets a reused key with a different request be refused.
 */
export class IdempotencyStore {
  private readonly keys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly ttlSeconds: number,
  ) {
    this.keys = redisKeys(prefix);
  }

  async claim(idempotencyKey: string, jobId: string, fingerprint: string): Promise<IdempotencyClaim> {
    const key = this.key(idempotencyKey);
    const value = JSON.stringify({ jobId, fingerprint });
    const set = await this.redis.set(key, value, 'EX', this.ttlSeconds, 'NX');
    if (set === 'OK') return { claimed: true };
    const existing = await this.redis.get(key);
    if (existing === null) return this.claim(idempotencyKey, jobId, fingerprint); // expired in between
    const parsed = JSON.parse(existing) as { jobId: string; fingerprint: string };
    return { claimed: false, jobId: parsed.jobId, fingerprint: parsed.fingerprint };
  }

  /** Gives a key back when the job it was claimed for could not be created. */
  async release(idempotencyKey: string, jobId: string): Promise<void> {
    const key = this.key(idempotencyKey);
    const existing = await this.redis.get(key);
    if (existing !== null && (JSON.parse(existing) as { jobId: string }).jobId === jobId) await this.redis.del(key);
  }

  private key(idempotencyKey: string): string {
    // Hashed: client keys are arbitrary strings and must not shape our key space.
    return this.keys.idempotency(createHash('sha256').update(idempotencyKey).digest('hex'));
  }
}
