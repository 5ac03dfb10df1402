import type { InputFeatures } from '@fathom/contracts';
import { DATABASE_ENGINES, migratedDatabasePerTest } from '@fathom/testing';
import type { Database } from '../database';
import { PredictionStore, type NewPrediction } from './prediction.store';

const minute = (n: number) => new Date(Date.UTC(2026, 11, 7, 12, n)).toISOString();

/** A flat grey upload's features. */
const FLAT_INPUT: InputFeatures = {
  bytes: 100,
  format: 'png',
  width: 4,
  height: 4,
  megapixels: 0.000016,
  orientation: 1,
  meanLuma: 128,
  contrast: 0,
  sharpness: 0,
  colourfulness: 0,
  saturation: 0,
  clipped: 0,
  histogram: [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
};

/** A finished depth job of key-alice at 12:<minute>. */
function prediction(jobId: string, at: number, overrides: Partial<NewPrediction> = {}): NewPrediction {
  return {
    jobId,
    finishedAt: minute(at),
    submittedAt: minute(at),
    model: 'depth',
    version: '1.0.0',
    variant: null,
    route: 'depth',
    task: 'depth',
    keyId: 'key-alice',
    status: 'completed',
    errorCode: null,
    timings: { decode: 3, infer: 40, total: 50 },
    executionProvider: 'cpu',
    traceId: `trace-${jobId}`,
    inputFeatures: null,
    outputFeatures: null,
    evaluationId: null,
    purpose: 'production',
    ...overrides,
  };
}

describe.each(DATABASE_ENGINES)('the prediction log, on %s', (_engine, createDatabaseForTest) => {
  let db: Database;
  let store: PredictionStore;

  const each = migratedDatabasePerTest(createDatabaseForTest);
  beforeEach(() => {
    db = each.db;
    store = new PredictionStore(db);
  });

  const jobIds = async (query: Parameters<PredictionStore['page']>[0]) => (await store.page(query)).rows.map((row) => row.jobId);

  it('logs a finished job once, however often its write is retried, and reads it back as written', async () => {
    const failed = prediction('j2', 2, { status: 'failed', errorCode: 'inference_failed', executionProvider: null });
    expect(await store.insertMany([prediction('j1', 1), failed])).toBe(2);
    expect(await store.insertMany([prediction('j1', 1, { model: 'other' }), failed, prediction('j3', 3)])).toBe(1);

    const { rows, next } = await store.page({ limit: 10 });
    expect(rows.map((row) => row.jobId)).toEqual(['j1', 'j2', 'j3']);
    expect(rows[0]).toEqual({ ...prediction('j1', 1), feedback: null });
    expect(rows[1]).toMatchObject({ status: 'failed', errorCode: 'inference_failed', executionProvider: null });
    expect(next).toBeUndefined();
    expect(await store.insertMany([])).toBe(0);
  });

  it('pages oldest first by finish time then job id, and the cursor walks every row exactly once', async () => {
    // j-b and j-a finish in the same millisecond: the job id orders them.
    await store.insertMany([prediction('j-c', 3), prediction('j-b', 2), prediction('j-a', 2), prediction('j-d', 4), prediction('j-e', 5)]);

    const first = await store.page({ limit: 2 });
    expect(first.rows.map((row) => row.jobId)).toEqual(['j-a', 'j-b']);
    const second = await store.page({ limit: 2, after: first.next });
    expect(second.rows.map((row) => row.jobId)).toEqual(['j-c', 'j-d']);
    const third = await store.page({ limit: 2, after: second.next });
    expect(third.rows.map((row) => row.jobId)).toEqual(['j-e']);
    expect(third.next).toBeUndefined();

    const exported: string[][] = [];
    for await (const rows of store.stream({}, 2)) exported.push(rows.map((row) => row.jobId));
    expect(exported).toEqual([['j-a', 'j-b'], ['j-c', 'j-d'], ['j-e']]);
    await expect(store.page({ limit: 2, after: 'not-a-cursor' })).rejects.toThrow(/send the "next" of the previous page/);
  });

  it('filters by model, version, time window, status and key', async () => {
    await store.insertMany([
      prediction('p1', 1),
      prediction('p2', 2, { version: '2.0.0' }),
      prediction('p3', 3, { model: 'segment', route: 'segment', task: 'segmentation' }),
      prediction('p4', 4, { status: 'cancelled' }),
      prediction('p5', 5, { keyId: 'key-bob' }),
    ]);

    expect(await jobIds({ model: 'depth', limit: 10 })).toEqual(['p1', 'p2', 'p4', 'p5']);
    expect(await jobIds({ model: 'depth', version: '2.0.0', limit: 10 })).toEqual(['p2']);
    // from is inclusive, to exclusive.
    expect(await jobIds({ from: minute(2), to: minute(4), limit: 10 })).toEqual(['p2', 'p3']);
    expect(await jobIds({ status: 'cancelled', limit: 10 })).toEqual(['p4']);
    expect(await jobIds({ keyId: 'key-bob', limit: 10 })).toEqual(['p5']);
    expect(await jobIds({ model: 'depth', status: 'failed', limit: 10 })).toEqual([]);
  });

  it("reads drift's rows: a version's latest production window, and a reference's rows by evaluation, jobs or time", async () => {
    const luma = (meanLuma: number) => ({ ...FLAT_INPUT, meanLuma });
    await store.insertMany([
      prediction('w1', 1, { inputFeatures: luma(10) }),
      prediction('w2', 2, { inputFeatures: luma(20) }),
      prediction('w3', 3, { inputFeatures: luma(30) }),
      prediction('w4', 4, { inputFeatures: luma(40), status: 'failed' }),
      prediction('e1', 5, { inputFeatures: luma(50), purpose: 'evaluation', evaluationId: 'run-1' }),
      prediction('r1', 6, { inputFeatures: luma(60), purpose: 'reference' }),
      prediction('v2', 7, { inputFeatures: luma(70), version: '2.0.0' }),
    ]);
    const lumas = (rows: Array<{ input: { meanLuma: number } | null }>) => rows.map((row) => row.input?.meanLuma);

    // Completed production jobs of the version only, newest first, `limit` at most, none before `since`.
    expect(lumas(await store.latestFeatures({ model: 'depth', version: '1.0.0', limit: 2 }))).toEqual([30, 20]);
    expect(lumas(await store.latestFeatures({ model: 'depth', version: '1.0.0', limit: 10, since: new Date(minute(2)) }))).toEqual([
      30, 20,
    ]);
    // A reference's rows, oldest first: an evaluation's samples, profiled jobs, a window of production.
    expect(lumas(await store.features({ model: 'depth', version: '1.0.0', evaluationId: 'run-1' }, 100))).toEqual([50]);
    expect(lumas(await store.features({ model: 'depth', version: '1.0.0', jobIds: ['r1', 'w1', 'v2'] }, 100))).toEqual([10, 60]);
    expect(
      lumas(await store.features({ model: 'depth', version: '1.0.0', purpose: 'production', from: minute(2), to: minute(4) }, 100)),
    ).toEqual([20, 30]);
    expect(await store.firstFinished('depth', '1.0.0')).toBe(minute(1));
    expect(await store.firstFinished('depth', '9.9.9')).toBeUndefined();
  });

  it("takes feedback from the job's own key only", async () => {
    await store.insertMany([prediction('j1', 1)]);

    expect(await store.setFeedback('j1', 'key-bob', { rating: 'down' })).toBeUndefined();
    expect(await store.setFeedback('missing', 'key-alice', { rating: 'down' })).toBeUndefined();
    expect((await store.page({ limit: 1 })).rows[0]?.feedback).toBeNull();

    const correction = { label: 'cat' };
    const row = await store.setFeedback('j1', 'key-alice', { rating: 'down', comment: 'it is a cat', correction });
    expect(row?.feedback).toMatchObject({ rating: 'down', comment: 'it is a cat', correction, by: 'key-alice' });
    expect((await store.page({ limit: 1 })).rows[0]?.feedback).toEqual(row?.feedback);

    // Changing one's mind replaces the feedback.
    const again = await store.setFeedback('j1', 'key-alice', { rating: 'up' });
    expect(again?.feedback).toMatchObject({ rating: 'up', comment: null, correction: null });
  });

  it("deletes only the model's rows older than the cutoff, a batch per statement, and counts them", async () => {
    const old = Array.from({ length: 7 }, (_, i) => prediction(`old-${i}`, i));
    await store.insertMany([...old, prediction('recent', 30), prediction('other-model-old', 1, { model: 'segment' })]);

    expect(await store.deleteOlderThan({ model: 'depth', before: minute(10), batch: 3 })).toBe(7);
    expect(await jobIds({ limit: 10 })).toEqual(['other-model-old', 'recent']);
    expect(await store.deleteOlderThan({ model: 'depth', before: minute(10), batch: 3 })).toBe(0);
  });
});
