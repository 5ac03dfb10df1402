import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { BullmqLayout } from './bullmq-layout';
import { createRedisConnection } from './redis-connection';

const PREFIX = 'pin';

/**
 * Pins the parts of BullMQ's Redis layout that BullmqLayout reads, against the installed BullMQ and
 * a real redis-server. When this fails after a BullMQ upgrade, BullmqLayout needs updating: the
 * queue metrics, the event readers' start and the WebSocket push spans depend on it.
 */
describe('BullMQ layout as BullmqLayout reads it', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let layout: BullmqLayout;
  let queueNumber = 0;
  const opened: Array<{ close(): Promise<void> }> = [];

  /** A unique queue per test. */
  function newQueue(): Queue {
    const queue = new Queue(`infer.pin-${++queueNumber}@1.0.0`, { connection: { url: server.url }, prefix: PREFIX });
    opened.push(queue);
    return queue;
  }

  beforeAll(async () => {
    server = await startRedisServer();
    redis = createRedisConnection(server.url, 'commands');
    layout = new BullmqLayout(redis, PREFIX);
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((q) => q.close()));
  });

  afterAll(async () => {
    await redis.quit();
    await server.stop();
  });

  it("names the keys as BullMQ's own key map does", () => {
    const queue = newQueue();
    const keys = layout.keys(queue.name);
    expect(keys).toMatchObject({ events: queue.keys.events, wait: queue.keys.wait, paused: queue.keys.paused });
    expect(keys.job('42')).toBe(queue.toKey('42'));
  });

  it('finds the newest event, after which a QueueEvents hears only what comes next', async () => {
    const queue = newQueue();
    expect(await layout.newestEventId(queue.name)).toBe('0-0');
    const before = await queue.add('infer', { n: 1 }, { jobId: 'before' });
    const lastEventId = await layout.newestEventId(queue.name);
    expect(lastEventId).not.toBe('0-0');

    const events = new QueueEvents(queue.name, { connection: { url: server.url }, prefix: PREFIX, lastEventId, autorun: false });
    opened.push(events);
    const heard: string[] = [];
    const afterWaiting = new Promise<void>((resolve) =>
      events.on('waiting', ({ jobId }) => {
        heard.push(jobId);
        if (jobId === 'after') resolve();
      }),
    );
    void events.run();
    await events.waitUntilReady();
    await queue.add('infer', { n: 2 }, { jobId: 'after' });
    await afterWaiting;
    expect(before.id).toBe('before');
    expect(heard).toEqual(['after']);
  });

  it("reads the trace context a producer stored with the job, as BullMQ's job.opts.telemetry gives it back", async () => {
    const queue = newQueue();
    const headers = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    await queue.add('infer', {}, { jobId: 'traced', telemetry: { metadata: JSON.stringify(headers) } });
    await queue.add('infer', {}, { jobId: 'untraced' });

    expect(await layout.jobTraceContext(queue.name, 'traced')).toEqual(headers);
    expect((await queue.getJob('traced'))?.opts.telemetry?.metadata).toBe(JSON.stringify(headers));
    expect(await layout.jobTraceContext(queue.name, 'untraced')).toBeNull();
    expect(await layout.jobTraceContext(queue.name, 'never-added')).toBeNull();
  });

  it('finds the oldest waiting job, paused or not, and none once the queue is empty', async () => {
    const queue = newQueue();
    expect(await layout.oldestWaitingTimestamp(queue.name)).toBeNull();
    const t0 = Date.now() - 60_000;
    for (const [i, jobId] of ['first', 'second', 'third'].entries()) {
      await queue.add('infer', {}, { jobId, timestamp: t0 + i * 1000 });
    }
    expect(await layout.oldestWaitingTimestamp(queue.name)).toBe(t0);

    await queue.pause();
    expect(await layout.oldestWaitingTimestamp(queue.name)).toBe(t0);
    await queue.remove('first');
    expect(await layout.oldestWaitingTimestamp(queue.name)).toBe(t0 + 1000);

    await queue.resume();
    // Delayed and prioritized jobs are not in the wait list; BullMQ's marker must not read as a job.
    await queue.add('infer', {}, { jobId: 'later', delay: 60_000, timestamp: t0 - 5000 });
    await queue.add('infer', {}, { jobId: 'urgent', priority: 1, timestamp: t0 - 5000 });
    expect(await layout.oldestWaitingTimestamp(queue.name)).toBe(t0 + 1000);

    await queue.drain(true);
    expect(await layout.oldestWaitingTimestamp(queue.name)).toBeNull();
  });
});
