import type { Redis } from 'ioredis';
import { startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { createRedisConnection } from './redis-connection';
import { RedisLease } from './redis-lease';

/** Resolves once the key has expired in Redis, or fails after `timeoutMs`. */
async function expired(redis: Redis, key: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await redis.exists(key)) === 1) {
    if (Date.now() > deadline) throw new Error(`${key} still held after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('RedisLease: one holder at a time, through Redis', () => {
  let server: RedisServerHandle;
  let redis: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = createRedisConnection(server.url, 'commands');
  });
  afterAll(async () => {
    await redis?.quit();
    await server?.stop();
  });

  it('is refused to a second owner while held, and free once released', async () => {
    const lease = await RedisLease.take(redis, 'lease:a', 'one', 300);
    expect(lease).not.toBeNull();
    expect(await RedisLease.take(redis, 'lease:a', 'two', 300)).toBeNull();
    await lease!.release();
    const second = await RedisLease.take(redis, 'lease:a', 'two', 300);
    expect(second).not.toBeNull();
    await second!.release();
  });

  it('kept, it stays taken without renewals until its TTL runs out: a periodic round keeps others out for the period', async () => {
    const lease = await RedisLease.take(redis, 'lease:b', 'one', 300);
    lease!.keep();
    expect(await RedisLease.take(redis, 'lease:b', 'two', 300)).toBeNull();
    expect(await redis.pttl('lease:b')).toBeLessThanOrEqual(300);
    // Renewed, it would never expire (this wait would time out).
    await expired(redis, 'lease:b');
    const next = await RedisLease.take(redis, 'lease:b', 'two', 300);
    expect(next).not.toBeNull();
    await next!.release();
  });
});
