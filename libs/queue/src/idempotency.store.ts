import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-connection';
import { redisKeys } from './redis-keys';

export type IdempotencyClaim = { claimed: true } | { claimed: false; jobId: string; fingerprint: string };

/**
 * Maps an `Idempotency-Key` to the job it created, atomically (SET NX), for as long as the job is
 * retained. Keys are per owner (the API key's id): two clients choosing the same key never meet. The fingerprint of the request lets a reused key with a different request be refused.
 */
export class IdempotencyStore {
  private readonly keys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly ttlSeconds: number,
  ) {
    this.keys = redisKeys(prefix);
  }

  async claim(owner: string, idempotencyKey: string, jobId: string, fingerprint: string): Promise<IdempotencyClaim> {
    const key = this.key(owner, idempotencyKey);
    const value = JSON.stringify({ jobId, fingerprint });
    const set = await this.redis.set(key, value, 'EX', this.ttlSeconds, 'NX');
    if (set === 'OK') return { claimed: true };
    const existing = await this.redis.get(key);
    if (existing === null) return this.claim(owner, idempotencyKey, jobId, fingerprint); // expired in between
    const parsed = JSON.parse(existing) as { jobId: string; fingerprint: string };
    return { claimed: false, jobId: parsed.jobId, fingerprint: parsed.fingerprint };
  }

  /** Gives a key back when the job it was claimed for could not be created. */
  async release(owner: string, idempotencyKey: string, jobId: string): Promise<void> {
    const key = this.key(owner, idempotencyKey);
    const existing = await this.redis.get(key);
    if (existing !== null && (JSON.parse(existing) as { jobId: string }).jobId === jobId) await this.redis.del(key);
  }

  private key(owner: string, idempotencyKey: string): string {
    // Hashed: client keys are arbitrary strings and must not shape our key space. The owner's id
    // has no newline, so no (owner, key) pair hashes the same text as another.
    return this.keys.idempotency(createHash('sha256').update(`${owner}\n${idempotencyKey}`).digest('hex'));
  }
}
