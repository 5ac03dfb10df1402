import { createTestDatabase, startEmbeddedTestDatabase, type TestDatabase } from '@fathom/testing';
import type { PredictionRecord } from '@fathom/contracts';
import { createDatabase, migrateToLatest, PredictionStore, type Database } from '@fathom/database';
import { PredictionWriter, type PredictionSink } from './prediction-writer';

/** The simplest sink to watch rows land in: the prediction log itself (the worker's sink is the Redis stream). */
const into = (store: PredictionStore): PredictionSink => ({ write: (rows) => store.insertMany(rows) });

// Short timeouts: an unreachable database fails a write within a second, not five.
const settings = (url: string) => ({
  url,
  poolSize: 2,
  statementTimeoutMs: 1_000,
  connectTimeoutMs: 500,
  applicationName: 'fathom-test',
});

const finished = (i: number): PredictionRecord => ({
  jobId: `job-${String(i).padStart(5, '0')}`,
  finishedAt: new Date(Date.UTC(2026, 11, 7, 12, 0, 0, i)).toISOString(),
  submittedAt: null,
  model: 'depth',
  version: '1.0.0',
  variant: null,
  route: 'depth',
  task: 'depth',
  keyId: 'key-alice',
  status: 'completed',
  errorCode: null,
  timings: { total: 50 },
  executionProvider: 'cpu',
  traceId: null,
  inputFeatures: null,
  outputFeatures: null,
  evaluationId: null,
  purpose: 'production',
});

/** Adds n rows and says how long the n calls to add() took in all (ms). */
function addRows(writer: PredictionWriter, from: number, n: number): number {
  const started = performance.now();
  for (let i = from; i < from + n; i += 1) writer.add(finished(i));
  return performance.now() - started;
}

async function loggedJobIds(store: PredictionStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const rows of store.stream({}, 500)) ids.push(...rows.map((row) => row.jobId));
  return ids;
}

const counts = () => {
  const seen = { written: 0, dropped: 0, errors: 0 };
  return {
    seen,
    onWritten: (n: number) => (seen.written += n),
    onDropped: (n: number) => (seen.dropped += n),
    onError: () => (seen.errors += 1),
  };
};

describe('the prediction writer, on PostgreSQL', () => {
  let database: TestDatabase;
  let db: Database;
  let store: PredictionStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDatabase(settings(database.url));
    await migrateToLatest(db);
    store = new PredictionStore(db);
  });
  afterAll(async () => {
    await db.destroy();
    await database.drop();
  });
  beforeEach(() => db.deleteFrom('predictions').execute());

  it('writes buffered rows in batches: on flush, on its timer, and when a batch is full', async () => {
    const { seen, ...callbacks } = counts();
    const writer = new PredictionWriter(into(store), { flushMs: 50, batchSize: 3, ...callbacks });

    addRows(writer, 0, 2);
    expect(writer.buffered).toBe(2);
    expect(await writer.flush()).toBe(true);
    expect(writer.buffered).toBe(0);
    expect(await loggedJobIds(store)).toEqual(['job-00000', 'job-00001']);

    // Neither a flush nor a full batch: the timer writes it.
    writer.add(finished(2));
    await waitFor(() => seen.written === 3);

    // A full batch starts a write at once.
    addRows(writer, 3, 7);
    await writer.close();
    expect(await loggedJobIds(store)).toHaveLength(10);
    expect(seen).toEqual({ written: 10, dropped: 0, errors: 0 });
  });

  it('returns from add() at once when the database refuses connections, keeping the rows', async () => {
    const { seen, ...callbacks } = counts();
    const away = createDatabase(settings('postgres://postgres@127.0.0.1:1/none'));
    const writer = new PredictionWriter(into(new PredictionStore(away)), { flushMs: 60_000, batchSize: 4, ...callbacks });

    // Two full batches start writes that fail (connection refused): add() waited for neither.
    expect(addRows(writer, 0, 8)).toBeLessThan(50);
    expect(await writer.flush()).toBe(false);
    expect(writer.buffered).toBe(8);
    expect(seen).toMatchObject({ written: 0, dropped: 0 });
    expect(seen.errors).toBeGreaterThanOrEqual(1);
    await writer.close(100);
    await away.destroy();
  });

  it('keeps at most maxBuffered rows while writes fail, dropping the oldest and counting them exactly', async () => {
    // A database without the table (not migrated yet): every write fails until it is.
    await database.reset();
    const { seen, ...callbacks } = counts();
    const writer = new PredictionWriter(into(store), { flushMs: 60_000, batchSize: 4, maxBuffered: 10, ...callbacks });

    addRows(writer, 0, 25);
    expect(await writer.flush()).toBe(false);
    expect(writer.buffered).toBe(10);
    expect(seen).toMatchObject({ written: 0, dropped: 15 });

    await migrateToLatest(db);
    expect(await writer.flush()).toBe(true);
    expect(await loggedJobIds(store)).toEqual(Array.from({ length: 10 }, (_, i) => finished(15 + i).jobId));
    expect(seen).toMatchObject({ written: 10, dropped: 15 });
    await writer.close();
  });

  it('loses nothing when the rows pushed past the bound were already being written and their write succeeds', async () => {
    await db.deleteFrom('predictions').execute();
    const { seen, ...callbacks } = counts();
    const writer = new PredictionWriter(into(store), { flushMs: 60_000, batchSize: 4, maxBuffered: 10, ...callbacks });

    // The 4th add starts writing rows 0–3; the 21 added meanwhile overflow the bound by 15:
    // rows 0–3 (in flight) are only marked, rows 4–14 go.
    addRows(writer, 0, 25);
    expect(writer.buffered).toBe(10);
    expect(await writer.flush()).toBe(true);
    const expected = [0, 1, 2, 3, ...Array.from({ length: 10 }, (_, i) => 15 + i)].map((i) => finished(i).jobId);
    expect(await loggedJobIds(store)).toEqual(expected);
    expect(seen).toEqual({ written: 14, dropped: 11, errors: 0 });
    await writer.close();
  });

  it('retries a failed write on its own, backing off, until the rows land', async () => {
    await database.reset();
    const { seen, ...callbacks } = counts();
    const writer = new PredictionWriter(into(store), { flushMs: 10, maxBackoffMs: 80, ...callbacks });

    addRows(writer, 0, 3);
    await waitFor(() => seen.errors >= 3);
    // Waits of 10, 20, 40, 80, 80… ms between tries: far fewer than one try per 10 ms tick.
    const errorsBefore = seen.errors;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.errors - errorsBefore).toBeLessThanOrEqual(4);

    await migrateToLatest(db);
    await waitFor(() => seen.written === 3);
    expect(await loggedJobIds(store)).toEqual([0, 1, 2].map((i) => finished(i).jobId));
    expect(writer.buffered).toBe(0);
    await writer.close();
  });
});

describe('the prediction writer, with the embedded database paused and resumed', () => {
  let database: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    database = await startEmbeddedTestDatabase();
    db = createDatabase(settings(database.url));
    await migrateToLatest(db);
  });
  afterAll(async () => {
    database.resume?.();
    await db.destroy();
    await database.drop();
  });

  it('returns from add() at once while the database hangs, keeps the rows, and writes them once it is back', async () => {
    const store = new PredictionStore(db);
    const { seen, ...callbacks } = counts();
    const writer = new PredictionWriter(into(store), { flushMs: 60_000, batchSize: 5, maxBuffered: 100, ...callbacks });

    database.pause?.();
    const took = addRows(writer, 0, 12);
    expect(took).toBeLessThan(50);
    expect(await writer.flush()).toBe(false);
    expect(writer.buffered).toBe(12);
    expect(seen.errors).toBeGreaterThanOrEqual(1);

    database.resume?.();
    await waitFor(async () => (await writer.flush()) && true);
    expect(writer.buffered).toBe(0);
    expect(seen).toMatchObject({ written: 12, dropped: 0 });
    expect(await loggedJobIds(store)).toEqual(Array.from({ length: 12 }, (_, i) => finished(i).jobId));
    await writer.close();
  }, 20_000);
});

/** Polls a condition every 20 ms for at most 5 s. */
async function waitFor(condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
