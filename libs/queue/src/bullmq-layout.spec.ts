import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { inferenceQueueName } from '@fathom/contracts';
import { clusterKeySlot, startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { BullmqLayout } from './bullmq-layout';
import { createRedisConnection } from './redis-connection';
import { BULLMQ_STALLED_LIMIT_REASON, jobFailure, jobRuns, recoveryBoundMs, stallWorkerOptions } from './stalled-jobs';

const PREFIX = 'pin';

/**
 * Pins the parts of BullMQ's Redis layout that BullmqLayout reads, and what stalled-jobs.ts reads of
 * BullMQ's stall handling (its counters and its failure reason), against the installed BullMQ and
 * a real redis-server. When this fails after a BullMQ upgrade, BullmqLayout or stalled-jobs.ts
 * needs updating: the queue metrics, the event readers' start, the WebSocket push spans and the
 * status's `attempts`, `stalls` and `worker_lost` depend on them.
 */
describe('BullMQ layout as BullmqLayout reads it', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let layout: BullmqLayout;
  let queueNumber = 0;
  const opened: Array<{ close(): Promise<void> }> = [];

  /** A unique queue per test. */
  function newQueue(): Queue {
    const queue = new Queue(inferenceQueueName(`pin-${++queueNumber}`, '1.0.0'), { connection: { url: server.url }, prefix: PREFIX });
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

  it("keeps every key of a queue, its jobs' included, in the slot of the queue name's hash tag (one slot per queue on a Redis Cluster)", async () => {
    const queue = newQueue();
    const slot = clusterKeySlot(queue.name);
    expect(Object.values(queue.keys).filter((key) => key !== '')).not.toHaveLength(0);
    for (const key of Object.values(queue.keys).filter((key) => key !== '')) expect([key, clusterKeySlot(key)]).toEqual([key, slot]);

    // What BullMQ actually wrote through a job's whole life: added, taken, completed, with events and metrics.
    const worker = new Worker(queue.name, async () => 'done', {
      connection: createRedisConnection(server.url, 'blocking'),
      prefix: PREFIX,
    });
    const events = new QueueEvents(queue.name, { connection: { url: server.url }, prefix: PREFIX });
    opened.push(worker, events);
    await events.waitUntilReady();
    const job = await queue.add('infer', { n: 1 }, { jobId: 'slot-1', attempts: 2 });
    await job.waitUntilFinished(events);
    const written = await redis.keys(`${PREFIX}:${queue.name}:*`);
    expect(written).toEqual(expect.arrayContaining([queue.toKey('slot-1'), queue.keys.events, queue.keys.completed]));
    for (const key of written) expect([key, clusterKeySlot(key)]).toEqual([key, slot]);
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

  it("tells unfinished jobs (waiting, active, delayed for a retry) from ended ones (completed, failed for good, removed), as BullMQ's getState does", async () => {
    const queue = newQueue();
    const events = new QueueEvents(queue.name, { connection: { url: server.url }, prefix: PREFIX });
    opened.push(events);
    await events.waitUntilReady();
    const retryLater = { attempts: 2, backoff: { type: 'fixed', delay: 3_600_000 } };
    const done = await queue.add('infer', { outcome: 'done' }, { jobId: 'job-done' });
    const broken = await queue.add('infer', { outcome: 'fail' }, { jobId: 'job-broken' });
    await queue.add('infer', { outcome: 'fail' }, { jobId: 'job-retrying', ...retryLater });
    await queue.add('infer', { outcome: 'hold' }, { jobId: 'job-active' });
    let release = () => undefined as void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const active = new Promise<void>((resolve) => events.on('active', ({ jobId }) => jobId === 'job-active' && resolve()));
    const delayed = new Promise<void>((resolve) => events.on('delayed', ({ jobId }) => jobId === 'job-retrying' && resolve()));
    const worker = new Worker(
      queue.name,
      async (job) => {
        const { outcome } = job.data as { outcome: string };
        if (outcome === 'fail') throw new Error('no');
        if (outcome === 'hold') await held;
        return 'done';
      },
      // One job at a time: while job-active is held, the worker takes nothing else (a paused worker could still have one fetch under way).
      { connection: { url: server.url }, prefix: PREFIX, concurrency: 1 },
    );
    opened.push(worker);
    await done.waitUntilFinished(events, 10_000);
    await expect(broken.waitUntilFinished(events, 10_000)).rejects.toThrow('no');
    await active;
    await queue.add('infer', {}, { jobId: 'job-waiting' });
    await queue.add('infer', {}, { jobId: 'job-removed' });
    await queue.remove('job-removed');
    await delayed;

    const ids = ['job-done', 'job-broken', 'job-retrying', 'job-active', 'job-waiting', 'job-removed', 'never-added'];
    expect(Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await queue.getJobState(id)])))).toEqual({
      'job-done': 'completed',
      'job-broken': 'failed',
      'job-retrying': 'delayed',
      'job-active': 'active',
      'job-waiting': 'waiting',
      'job-removed': 'unknown',
      'never-added': 'unknown',
    });
    expect([...(await layout.unfinishedJobs(queue.name, ids))].sort()).toEqual(['job-active', 'job-retrying', 'job-waiting']);
    release();
  });

  describe("stalls, as BullMQ's Job API reports them and jobRuns / jobFailure read them", () => {
    const policy = { lockDurationMs: 1000, stalledIntervalMs: 500, maxStalledCount: 1 };

    /**
     * A worker that takes a job and dies: it fetches by hand (no processor, so no lock renewal) and
     * never finishes, and its lock runs out as a SIGKILLed worker's does.
     */
    async function takeAndDie(queue: Queue): Promise<string> {
      const dying = new Worker(queue.name, null, { connection: { url: server.url }, prefix: PREFIX, ...stallWorkerOptions(policy) });
      opened.push(dying);
      const job = await dying.getNextJob('dying-token');
      if (!job?.id) throw new Error('the dying worker took no job');
      return job.id;
    }

    /** A live worker that counts the stalls its checks find, and runs (or fails) the jobs they put back. */
    function liveWorker(queue: Queue, run: () => Promise<string>) {
      const stalled: string[] = [];
      const worker = new Worker(queue.name, run, { connection: { url: server.url }, prefix: PREFIX, ...stallWorkerOptions(policy) });
      opened.push(worker);
      worker.on('stalled', (jobId) => stalled.push(jobId));
      return { worker, stalled };
    }

    it('counts a lost run in stalledCounter, not in attemptsMade, and the job runs again within lock + interval', async () => {
      const queue = newQueue();
      const events = new QueueEvents(queue.name, { connection: { url: server.url }, prefix: PREFIX });
      opened.push(events);
      await events.waitUntilReady();
      await queue.add('infer', {}, { jobId: 'lost-once', attempts: 3 });
      const lostAt = Date.now();
      await takeAndDie(queue);
      let rerunAt = 0;
      const { stalled } = liveWorker(queue, async () => {
        rerunAt = Date.now();
        return 'done';
      });
      const job = (await queue.getJob('lost-once'))!;
      await job.waitUntilFinished(events, 10 * recoveryBoundMs(policy));

      expect(stalled).toEqual(['lost-once']);
      expect(rerunAt - lostAt).toBeLessThanOrEqual(recoveryBoundMs(policy) + policy.stalledIntervalMs);
      const done = (await queue.getJob('lost-once'))!;
      expect({ attemptsMade: done.attemptsMade, stalledCounter: done.stalledCounter, attemptsStarted: done.attemptsStarted }).toEqual({
        attemptsMade: 1,
        stalledCounter: 1,
        attemptsStarted: 2,
      });
      expect(jobRuns(done)).toEqual({ attempts: 2, stalls: 1 });
    });

    it('fails a job that lost its worker more than maxStalledCount times with its own reason, read as worker_lost', async () => {
      const queue = newQueue();
      const events = new QueueEvents(queue.name, { connection: { url: server.url }, prefix: PREFIX });
      opened.push(events);
      await events.waitUntilReady();
      await queue.add('infer', {}, { jobId: 'lost-twice', attempts: 3 });
      let taken = 0;
      const secondRun = new Promise<void>((resolve) =>
        events.on('active', ({ jobId }) => jobId === 'lost-twice' && ++taken === 2 && resolve()),
      );
      await takeAndDie(queue);
      // The worker that finds the first stall takes the job again, and dies too (closed without
      // finishing it, its lock left to run out): one stall more than maxStalledCount allows.
      const checker = liveWorker(queue, () => new Promise(() => undefined));
      await secondRun;
      await checker.worker.close(true);
      let ran = false;
      const { stalled } = liveWorker(queue, async () => {
        ran = true;
        return 'done';
      });
      const job = (await queue.getJob('lost-twice'))!;
      await expect(job.waitUntilFinished(events, 20 * recoveryBoundMs(policy))).rejects.toThrow(BULLMQ_STALLED_LIMIT_REASON);

      expect(ran).toBe(false);
      expect([...checker.stalled, ...stalled]).toEqual(['lost-twice', 'lost-twice']);
      const failed = (await queue.getJob('lost-twice'))!;
      expect({ failedReason: failed.failedReason, stalledCounter: failed.stalledCounter, attemptsMade: failed.attemptsMade }).toEqual({
        failedReason: BULLMQ_STALLED_LIMIT_REASON,
        stalledCounter: 2,
        // BullMQ counts the failing itself as an attempt, though nothing ran.
        attemptsMade: 1,
      });
      expect(jobRuns(failed)).toEqual({ attempts: 2, stalls: 2 });
      expect(jobFailure(failed.failedReason, 2)).toEqual({ code: 'worker_lost', message: expect.stringContaining('died 2 times') });
    });
  });
});
