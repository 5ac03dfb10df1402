import sharp from 'sharp';
import { DEFAULT_KEY_PREFIX, type JobAccepted, type JobStatus } from '@fathom/contracts';
import { createDatabase, PredictionStore, type Database, type PredictionRow } from '@fathom/database';
import { createRedisConnection, PredictionStream } from '@fathom/queue';
import { buildSlowDepthModel, startTcpProxy, type TcpProxy } from '@fathom/testing';
import { depthModelsDir, FathomStack, LOAD_TEST_LIMITS_ENV, submit } from './support/fathom-stack';

/** The stand-in runs only on inputs of exactly SIDE × SIDE: any other shape fails its inference. */
const SIDE = 518;

function openLog(url: string): { db: Database; store: PredictionStore } {
  const db = createDatabase({ url, poolSize: 2, statementTimeoutMs: 5_000, connectTimeoutMs: 2_000, applicationName: 'fathom-test' });
  return { db, store: new PredictionStore(db) };
}

/** The job's row, as an operator would find it in PostgreSQL, once it is there. */
async function loggedRow(store: PredictionStore, jobId: string, timeoutMs = 15_000): Promise<PredictionRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await store.page({ jobIds: [jobId], limit: 1 });
    if (rows[0]) return rows[0];
    if (Date.now() > deadline) throw new Error(`job ${jobId} has no row in the prediction log after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function accepted(response: Response): Promise<JobAccepted> {
  expect(response.status).toBe(202);
  return (await response.json()) as JobAccepted;
}

describe('the prediction log: every finished job becomes a row in PostgreSQL', () => {
  let stack: FathomStack;
  let log: ReturnType<typeof openLog>;
  let square: Buffer;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi({ API_JOB_ATTEMPTS: '1' });
    const modelsDir = depthModelsDir(buildSlowDepthModel({ side: SIDE, matmulLayers: 1500 }), 'square-only');
    await stack.startWorker({ MODELS_DIR: modelsDir, WORKER_BUILTIN_MODELS: 'false', WORKER_CONCURRENCY: '1' });
    log = openLog(stack.database.url);
    square = await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background: { r: 40, g: 120, b: 200 } } })
      .jpeg()
      .toBuffer();
  }, 120_000);
  afterAll(async () => {
    await log?.db.destroy();
    await stack?.stop();
  });

  it('logs a completed job within seconds of its end, with its model, timings, trace and features', async () => {
    const job = await accepted(await submit(stack.api, { image: square, model: 'square-only', filename: 'blue.jpg' }));
    const status: JobStatus = await stack.jobEnd(job.id);
    expect(status.state).toBe('completed');

    const row = await loggedRow(log.store, job.id);
    expect(row).toMatchObject({
      jobId: job.id,
      status: 'completed',
      errorCode: null,
      model: 'square-only',
      version: status.model.version,
      task: 'depth',
      purpose: 'production',
      executionProvider: 'cpu',
      traceId: status.traceId,
      evaluationId: null,
      feedback: null,
    });
    expect(row.timings).toMatchObject({ inference: expect.any(Number), total: expect.any(Number) });
    expect(new Date(row.finishedAt).getTime()).toBeGreaterThanOrEqual(new Date(row.submittedAt!).getTime());
    // The upload's facts, and its pixels' statistics: one flat colour has no contrast and one histogram bin per channel.
    expect(row.inputFeatures).toMatchObject({
      bytes: square.length,
      format: 'jpeg',
      width: SIDE,
      height: SIDE,
      orientation: 1,
      contrast: expect.any(Number),
    });
    expect(row.inputFeatures!.contrast).toBeLessThan(1);
    expect(row.inputFeatures!.meanLuma).toBeCloseTo(0.299 * 40 + 0.587 * 120 + 0.114 * 200, -1);
    expect(row.outputFeatures).toMatchObject({ task: 'depth', range: expect.any(Number) });
  });

  it('logs a failed job with its error code, and a job cancelled while queued as cancelled', async () => {
    const wide = await sharp({ create: { width: 600, height: 400, channels: 3, background: '#445566' } })
      .png()
      .toBuffer();
    const failing = await accepted(await submit(stack.api, { image: wide, model: 'square-only' }));
    // The one worker slot busy with a slow job (the failing one fails at once), so the next job
    // waits its turn and is cancelled while queued.
    const busy = await accepted(await submit(stack.api, { image: square, model: 'square-only' }));
    await stack.jobStarted(busy.id);
    const queued = await accepted(await submit(stack.api, { image: square, model: 'square-only' }));
    expect((await fetch(`${stack.api.url}/v1/jobs/${queued.id}`, { method: 'DELETE' })).status).toBe(200);
    expect(await stack.jobEnd(failing.id)).toMatchObject({ state: 'failed', error: { code: 'inference_failed' } });

    expect(await loggedRow(log.store, failing.id)).toMatchObject({ status: 'failed', errorCode: 'inference_failed', model: 'square-only' });
    expect(await loggedRow(log.store, queued.id)).toMatchObject({
      status: 'cancelled',
      errorCode: null,
      inputFeatures: null,
      outputFeatures: null,
    });
  });
});

describe('the prediction log keeps flowing past a record PostgreSQL refuses, and past Redis losing its data', () => {
  let stack: FathomStack;
  let log: ReturnType<typeof openLog>;
  let image: Buffer;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    await stack.startWorker({
      MODELS_DIR: depthModelsDir(buildSlowDepthModel({ side: 64, matmulLayers: 1 }), 'fast', {
        input: { resize: { mode: 'fixed', width: 64, height: 64 } },
      }),
    });
    log = openLog(stack.database.url);
    image = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
  }, 120_000);
  afterAll(async () => {
    await log?.db.destroy();
    await stack?.stop();
  });

  async function completedJob(): Promise<string> {
    const { id } = await accepted(await submit(stack.api, { image, model: 'fast' }));
    expect((await stack.jobEnd(id)).state).toBe('completed');
    return id;
  }

  it('removes a record whose text PostgreSQL cannot store (a NUL character), with a warning, and writes the rest of its batch', async () => {
    const redis = createRedisConnection(stack.redis.url, 'commands');
    try {
      const template = await loggedRow(log.store, await completedJob());
      const { feedback: _feedback, ...record } = template;
      await new PredictionStream(redis, DEFAULT_KEY_PREFIX).append([
        { ...record, jobId: 'poisoned', errorCode: 'nul\u0000byte' },
        { ...record, jobId: 'healthy' },
      ]);
      expect((await loggedRow(log.store, 'healthy')).jobId).toBe('healthy');
      await stack.api.process.waitForLine(/prediction record removed: PostgreSQL refused its data.*"jobId":"poisoned"/, 10_000);
      expect((await log.store.page({ jobIds: ['poisoned'], limit: 1 })).rows).toEqual([]);
      // And the log goes on.
      await loggedRow(log.store, await completedJob());
      const metrics = await (await fetch(stack.api.metricsUrl)).text();
      expect(metrics).toMatch(/^fathom_predictions_invalid_total 1$/m);
    } finally {
      await redis.quit();
    }
  });

  it('logs again after Redis restarts without its data (its consumer group gone with it)', async () => {
    await stack.redis.restart({ kill: true });
    // The API and the worker reconnect; the first jobs may meet them still reconnecting.
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await loggedRow(log.store, await completedJob(), 15_000);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
    }
  }, 90_000);
});

describe('PostgreSQL stops for 30 s under load', () => {
  let stack: FathomStack;
  let proxy: TcpProxy;
  let log: ReturnType<typeof openLog>;

  beforeAll(async () => {
    stack = await FathomStack.start();
    const server = new URL(stack.database.url);
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    // The API reaches PostgreSQL only through the proxy, so cutting it is PostgreSQL going away.
    await stack.startApi({ DATABASE_URL: proxy.proxied(stack.database.url), API_JOB_ATTEMPTS: '1', ...LOAD_TEST_LIMITS_ENV });
    await stack.startWorker({
      MODELS_DIR: depthModelsDir(buildSlowDepthModel({ side: 64, matmulLayers: 1 }), 'fast', {
        input: { resize: { mode: 'fixed', width: 64, height: 64 } },
      }),
    });
    log = openLog(stack.database.url);
  }, 120_000);
  afterAll(async () => {
    await log?.db.destroy();
    await proxy?.close();
    await stack?.stop();
  });

  it('loses no job and no row: the rows wait in Redis and land once it is back', async () => {
    const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const ids: string[] = [];
    const submitFor = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        ids.push((await accepted(await submit(stack.api, { image, model: 'fast' }))).id);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    await submitFor(2_000);
    await proxy.cut();
    try {
      await submitFor(30_000);
      // Meanwhile the finished jobs' rows wait in Redis (what /metrics shows an operator).
      const during = await (await fetch(stack.api.metricsUrl)).text();
      expect(Number(/^fathom_prediction_buffer_records (\d+)$/m.exec(during)?.[1])).toBeGreaterThan(0);
    } finally {
      await proxy.restore();
    }
    await submitFor(2_000);

    // Every job the API accepted completed, outage or not.
    const states: string[] = [];
    for (const id of ids) states.push((await stack.jobEnd(id, { timeoutMs: 60_000 })).state);
    expect(states.filter((state) => state !== 'completed')).toEqual([]);
    // And every one of them has its row, once the ingester's next retry finds PostgreSQL back.
    for (const id of ids) expect((await loggedRow(log.store, id, 60_000)).status).toBe('completed');
    const { rows } = await log.store.page({ model: 'fast', limit: 10_000 });
    expect(rows).toHaveLength(ids.length);
    // Nothing was dropped: the stream held them all (far under its bound).
    const metrics = await (await fetch(stack.api.metricsUrl)).text();
    expect(metrics).toMatch(/fathom_predictions_dropped_total\{stage="stream"\} 0/);
    expect(metrics).toMatch(/fathom_prediction_buffer_records 0/);
  }, 180_000);
});
