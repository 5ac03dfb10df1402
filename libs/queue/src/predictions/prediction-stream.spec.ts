import type { PredictionRecord } from '@fathom/contracts';
import { startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { createRedisConnection, type RedisClient } from '../redis-connection';
import { PredictionStream, type StreamedPrediction } from './prediction-stream';

const record = (i: number): PredictionRecord => ({
  jobId: `job-${i}`,
  finishedAt: new Date(Date.UTC(2026, 11, 7, 12, 0, i)).toISOString(),
  submittedAt: null,
  model: 'depth',
  version: '1.0.0',
  variant: null,
  route: 'stable',
  task: 'depth',
  keyId: null,
  status: 'completed',
  errorCode: null,
  timings: null,
  executionProvider: 'cpu',
  traceId: null,
  inputFeatures: null,
  outputFeatures: null,
  evaluationId: null,
  purpose: 'production',
});

const ids = (entries: StreamedPrediction[]) =>
  entries.map((entry) => ('record' in entry ? entry.record.jobId : 'invalid' in entry ? `invalid: ${entry.invalid}` : 'gone'));

describe('the prediction stream (records on their way to PostgreSQL)', () => {
  let server: RedisServerHandle;
  let redis: RedisClient;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = createRedisConnection({ url: server.url, commandTimeoutMs: 2_000, connectTimeoutMs: 2_000, cluster: false }, 'commands');
  });
  afterAll(async () => {
    await redis.quit();
    await server.stop();
  });
  beforeEach(() => redis.flushall());

  it('hands each record to one consumer, which removes it once written; what it has not acknowledged it reads again', async () => {
    const stream = new PredictionStream(redis, 'fathom', 100);
    // Appended before any API created the group: still read.
    await stream.append([record(1), record(2)]);
    await stream.ensureGroup();
    await stream.ensureGroup();
    await stream.append([record(3)]);

    const first = await stream.read('api-a', { count: 2 });
    expect(ids(first)).toEqual(['job-1', 'job-2']);
    expect(ids(await stream.read('api-b', { count: 10 }))).toEqual(['job-3']);
    // A write that failed: api-a reads its own records again, in order.
    expect(ids(await stream.read('api-a', { count: 10, pending: true }))).toEqual(['job-1', 'job-2']);
    await stream.done(first.map((entry) => entry.id));
    expect(await stream.length()).toBe(1);
    expect(await stream.read('api-a', { count: 10, pending: true })).toEqual([]);
  });

  it('lets another instance take over the records of one that died before writing them', async () => {
    const stream = new PredictionStream(redis, 'fathom', 100);
    await stream.ensureGroup();
    await stream.append([record(1)]);
    await stream.read('dead-api', { count: 10 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(ids(await stream.claimStale('live-api', 20, 10))).toEqual(['job-1']);
    expect(await stream.claimStale('other-api', 60_000, 10)).toEqual([]);
  });

  it('forgets consumers that hold nothing and have been idle a while (instances that restarted), never one holding records', async () => {
    const stream = new PredictionStream(redis, 'fathom', 100);
    await stream.ensureGroup();
    await stream.append([record(1), record(2)]);
    await stream.read('old-holding', { count: 1 });
    await stream.read('old-empty', { count: 1 }).then((entries) => stream.done(entries.map((e) => e.id)));
    await stream.read('me', { count: 1 }).then((entries) => stream.done(entries.map((e) => e.id)));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await stream.forgetIdleConsumers('me', 20)).toEqual(['old-empty']);
    expect(await stream.forgetIdleConsumers('me', 20)).toEqual([]);
  });

  it('keeps at most its bound, dropping the oldest and counting every one dropped', async () => {
    const stream = new PredictionStream(redis, 'fathom', 5);
    await stream.ensureGroup();
    expect(await stream.append([1, 2, 3, 4].map(record))).toBe(0);
    expect(await stream.append([5, 6, 7].map(record))).toBe(2);
    expect(await stream.append([8].map(record))).toBe(1);
    expect(await stream.length()).toBe(5);
    expect(await stream.dropped()).toBe(3);
    expect(ids(await stream.read('api', { count: 10 }))).toEqual(['job-4', 'job-5', 'job-6', 'job-7', 'job-8']);
  });

  it('hands back a record the bound trimmed while its consumer still held it as gone, to acknowledge', async () => {
    const stream = new PredictionStream(redis, 'fathom', 2);
    await stream.ensureGroup();
    await stream.append([record(1)]);
    const [held] = await stream.read('api', { count: 1 });
    // PostgreSQL away meanwhile: newer records push the held one out.
    await stream.append([record(2), record(3)]);
    expect(await stream.dropped()).toBe(1);
    expect(await stream.read('api', { count: 10, pending: true })).toEqual([{ id: held!.id, gone: true }]);
    await stream.done([held!.id]);
    expect(await stream.read('api', { count: 10, pending: true })).toEqual([]);
    expect(ids(await stream.read('api', { count: 10 }))).toEqual(['job-2', 'job-3']);
  });

  it('reports an entry that is not a record instead of failing the batch', async () => {
    const stream = new PredictionStream(redis, 'fathom', 100);
    await stream.ensureGroup();
    await redis.xadd('fathom:{predictions}', '*', 'r', '{"jobId":"half"}');
    await stream.append([record(9)]);
    const entries = await stream.read('api', { count: 10 });
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ invalid: expect.any(String) });
    expect(entries[1]).toMatchObject({ record: { jobId: 'job-9' } });
  });
});
