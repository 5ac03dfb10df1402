import type { Cluster, Redis } from 'ioredis';

/**
 * Inputs and results, kept in Redis with a TTL (docs/adr/0003-redis-blob-storage.md): API and
 * workers on different hosts share nothing but Redis, and expiry needs no sweeper.
 */
export class BlobStore {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  inputKey(jobId: string): string {
    return `${this.prefix}:blob:input:${jobId}`;
  }

  resultKey(jobId: string, artifact: string): string {
    return `${this.prefix}:blob:result:${jobId}:${artifact}`;
  }

  async put(key: string, bytes: Buffer): Promise<void> {
    await this.redis.set(key, bytes, 'EX', this.ttlSeconds);
  }

  /** The bytes, or null when they expired or never existed. */
  async get(key: string): Promise<Buffer | null> {
    return this.redis.getBuffer(key);
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(key);
  }
}
