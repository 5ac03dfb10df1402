import { Queue, QueueEvents, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { BullmqLayout } from './bullmq-layout';
import { IN_FLIGHT_SETTLE_MS, InFlightStore } from './in-flight.store';
import { createRedisConnection } from './redis-connection';

const PREFIX = 'quota';
const RETENTION_SECONDS = 3600;

/**
 * A key's jobs in flight, as every API instance and worker sees them: admitted under the key's
 * limit, given back when a job ends, and healed from BullMQ when a process died before giving back.
 */
describe('InFlightStore: jobs in flight per API key, shared through Redis', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let other: Redis;
  let store: InFlightStore;
  let queueNumber = 0;
  let keyNumber = 0;
  const opened: Array<{ close(): Promise<void> }> = [];

  function newQueue(): Queue {
    const queue = new Queue(`infer.quota-${++queueNumber}@1.0.0`, { connection: { url: server.url }, prefix: PREFIX });
    opened.push(queue);
    return queue;
  }

  const newKey = () => `key-${++keyNumber}`;
  /** Long after any admission: every member is old enough to be checked against BullMQ. */
  const later = () => Date.now() + IN_FLIGHT_SETTLE_MS + 1;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = createRedisConnection(server.url, 'commands');
    other = createRedisConnection(server.url, 'commands');
    store = new InFlightStore(redis, PREFIX, new BullmqLayout(redis, PREFIX), RETENTION_SECONDS);
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((q) => q.close()));
  });

  afterAll(async () => {
    await Promise.all([redis.quit(), other.quit()]);
    await server.stop();
  });

  it("admits a key's jobs up to its limit on any instance, and refuses the next one without writing anything", async () => {
    const key = newKey();
    const elsewhere = new InFlightStore(other, PREFIX, new BullmqLayout(other, PREFIX), RETENTION_SECONDS);
    expect(await store.admit(key, { queue: 'infer.a@1', id: 'j1' }, 2)).toEqual({ admitted: true });
    expect(await elsewhere.admit(key, { queue: 'infer.a@1', id: 'j2' }, 2)).toEqual({ admitted: true });

    const before = await redis.zrange(`${PREFIX}:in-flight:${key}`, 0, -1);
    expect(await elsewhere.admit(key, { queue: 'infer.a@1', id: 'j3' }, 2)).toEqual({ admitted: false, inFlight: 2 });
    expect(await redis.zrange(`${PREFIX}:in-flight:${key}`, 0, -1)).toEqual(before);
    // Another key has its own count.
    expect(await store.admit(newKey(), { queue: 'infer.a@1', id: 'j3' }, 2)).toEqual({ admitted: true });
  });

  it('never admits more than the limit when many submissions race for the last places', async () => {
    const key = newKey();
    const admissions = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? store : new InFlightStore(other, PREFIX, new BullmqLayout(other, PREFIX), 60)).admit(key, { queue: 'q', id: `j${i}` }, 5),
      ),
    );
    expect(admissions.filter((a) => a.admitted)).toHaveLength(5);
    expect(await store.count(key)).toBe(5);
  });

  it('takes a job back when it ends or is cancelled, so the key may submit again', async () => {
    const key = newKey();
    const job = { queue: 'infer.a@1', id: 'j1' };
    await store.admit(key, job, 1);
    expect((await store.admit(key, { queue: 'infer.a@1', id: 'j2' }, 1)).admitted).toBe(false);
    await store.ended(key, job);
    await store.ended(key, job); // a second end (the worker and a cancel racing) changes nothing
    expect(await store.count(key)).toBe(0);
    expect(await store.admit(key, { queue: 'infer.a@1', id: 'j2' }, 1)).toEqual({ admitted: true });
  });

  it('heals a full key from BullMQ: jobs that completed, failed for good or were removed no longer count; waiting, retrying and just-admitted ones do', async () => {
    const queue = newQueue();
    const key = newKey();
    const events = new QueueEvents(queue.name, { connection: { url: server.url }, prefix: PREFIX });
    opened.push(events);
    await events.waitUntilReady();
    const admitAndAdd = async (id: string, data: { fail?: 'once' | 'always' }, attempts = 1) => {
      expect(await store.admit(key, { queue: queue.name, id }, 10)).toEqual({ admitted: true });
      return queue.add('infer', data, { jobId: id, attempts, backoff: { type: 'fixed', delay: 3_600_000 } });
    };
    const completed = await admitAndAdd('job-completed', {});
    const failed = await admitAndAdd('job-failed', { fail: 'always' });
    const retrying = await admitAndAdd('job-retrying', { fail: 'once' }, 2);
    const worker = new Worker(
      queue.name,
      (job) => {
        if ((job.data as { fail?: string }).fail) throw new Error('no');
        return Promise.resolve('done');
      },
      { connection: { url: server.url }, prefix: PREFIX },
    );
    opened.push(worker);
    const retried = new Promise<void>((resolve) => worker.on('failed', (job) => job?.id === 'job-retrying' && resolve()));
    await completed.waitUntilFinished(events, 10_000);
    await expect(failed.waitUntilFinished(events, 10_000)).rejects.toThrow('no');
    await retried;
    expect(await retrying.getState()).toBe('delayed'); // a retry is due in an hour: still in flight
    await worker.close();
    const removed = await admitAndAdd('job-removed', {});
    await queue.remove('job-removed');
    await admitAndAdd('job-waiting', {});
    // Admitted by a process that died before giving it back, its job long gone from BullMQ.
    await store.admit(key, { queue: queue.name, id: 'lost' }, 10);
    expect(await store.count(key)).toBe(6);
    expect(removed.id).toBe('job-removed');

    // Just admitted (within the settling time), none is checked: a job between its admission and its queue.add has no BullMQ hash yet.
    expect(await store.heal(key)).toBe(0);
    expect(await store.heal(key, later())).toBe(4);
    expect(await store.count(key)).toBe(2); // waiting and retrying

    // A full key is healed before it is refused.
    await store.admit(key, { queue: queue.name, id: 'stale' }, 10);
    expect(await store.admit(key, { queue: queue.name, id: 'job-next' }, 3, later())).toEqual({ admitted: true });
    await queue.add('infer', {}, { jobId: 'job-next' });
    expect(await store.admit(key, { queue: queue.name, id: 'refused' }, 3, later())).toEqual({ admitted: false, inFlight: 3 });
  });
});
