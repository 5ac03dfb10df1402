import { mkdtempSync } from 'node:fs';
import { rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { BlobSweeper } from './blob.sweeper';
import { FilesystemBlobStore } from './filesystem.blob-store';

const silent = { info: () => undefined, warn: () => undefined };

describe('the blob sweeper', () => {
  let redisServer: RedisServerHandle;
  let redis: Redis;
  const root = mkdtempSync(join(tmpdir(), 'fathom-sweeper-'));
  const blobs = new FilesystemBlobStore(root, 'fathom');
  const options = { prefix: 'fathom', retentionSeconds: 3_600, intervalMs: 60_000 };

  beforeAll(async () => {
    redisServer = await startRedisServer();
    redis = new Redis(redisServer.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await redisServer.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('removes inputs and results past the retention, once per round for the whole deployment', async () => {
    const expired = [blobs.inputKey('job-old'), blobs.resultKey('job-old', 'depth'), blobs.resultKey('job-old', 'overlay')];
    const kept = blobs.resultKey('job-new', 'depth');
    await Promise.all([...expired, kept].map((key) => blobs.put(key, Buffer.from(key))));
    const twoHoursAgo = new Date(Date.now() - 7_200_000);
    for (const key of expired) await utimes(join(root, ...key.split('/')), twoHoursAgo, twoHoursAgo);

    // Two API instances' sweepers: the one that takes the round's lock sweeps, the other stands by.
    const [first, second] = [new BlobSweeper(blobs, redis, options, silent), new BlobSweeper(blobs, redis, options, silent)];
    expect(await first.sweepIfLeader()).toBe(3);
    expect(await second.sweepIfLeader()).toBeNull();
    for (const key of expired) expect(await blobs.get(key)).toBeNull();
    expect((await blobs.get(kept))?.toString()).toBe(kept);
    // The lock expires with the round: the next round goes to whoever asks first.
    expect(await redis.pttl('fathom:blob-sweeper:lock')).toBeGreaterThan(0);
    await redis.del('fathom:blob-sweeper:lock');
    expect(await second.sweepIfLeader()).toBe(0);
  });
});
