import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { ErrorCode, parseFailureReason } from '@fathom/contracts';
import { startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { createRedisConnection } from './redis-connection';
import { failWaitingJobs } from './retired-jobs';

describe('failWaitingJobs: a retired version’s waiting jobs end failed with its code', () => {
  let server: RedisServerHandle;
  let connection: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    connection = createRedisConnection(server.url, 'blocking');
  });
  afterAll(async () => {
    await connection.quit();
    await server.stop();
  });

  it('fails every waiting and prioritized job once, unrecoverably, and leaves other queues alone', async () => {
    const queue = new Queue('infer.{retired@1.0.0}', { connection: { url: server.url }, prefix: 'retire' });
    const other = new Queue('infer.{kept@1.0.0}', { connection: { url: server.url }, prefix: 'retire' });
    try {
      await queue.add('infer', { keyId: 'key-a', input: { blobKey: 'fathom/input/a' } }, { jobId: 'a', attempts: 3 });
      await queue.add('infer', { keyId: 'key-b', input: { blobKey: 'fathom/input/b' } }, { jobId: 'b', attempts: 3, priority: 2 });
      await other.add('infer', {}, { jobId: 'c' });
      const failure = { code: ErrorCode.ModelRetired, message: 'retired@1.0.0 was retired' };
      const failed = await failWaitingJobs(queue.name, connection, 'retire', failure);
      expect(failed.map((j) => [j.id, j.data.keyId, j.data.input?.blobKey]).sort()).toEqual([
        ['a', 'key-a', 'fathom/input/a'],
        ['b', 'key-b', 'fathom/input/b'],
      ]);
      for (const id of ['a', 'b']) {
        expect(await queue.getJobState(id)).toBe('failed');
        expect(parseFailureReason((await queue.getJob(id))!.failedReason)).toEqual(failure);
      }
      expect(await queue.getJobCountByTypes('waiting', 'prioritized', 'active', 'delayed')).toBe(0);
      expect(await other.getJobState('c')).toBe('waiting');
      expect(await failWaitingJobs(queue.name, connection, 'retire', failure)).toEqual([]);
    } finally {
      await queue.close();
      await other.close();
    }
  });
});
