import { PredictionStore, type NewPrediction, type PredictionPage, type PredictionPageQuery } from '@fathom/database';
import { createTestDatabase, migratedDatabasePerTest } from '@fathom/testing';
import { PredictionExportService } from './prediction-export.service';

/** The real store, counting the pages it is asked for. */
class CountingStore extends PredictionStore {
  pagesRead = 0;
  override page(query: PredictionPageQuery): Promise<PredictionPage> {
    this.pagesRead += 1;
    return super.page(query);
  }
}

const ROWS = 5_000;
/** The service's page size while an export streams. */
const PAGE_ROWS = 500;

function logged(i: number): NewPrediction {
  return {
    jobId: `job-${String(i).padStart(5, '0')}`,
    finishedAt: new Date(Date.UTC(2026, 11, 7, 12, 0, 0, i)).toISOString(),
    submittedAt: null,
    model: 'depth',
    version: '1.0.0',
    variant: null,
    route: 'stable',
    task: 'depth',
    keyId: 'key-1',
    status: 'completed',
    errorCode: null,
    timings: { queueWait: 1, decode: 2, preprocess: 3, inference: 40, postprocess: 4, encode: 5, total: 60 },
    executionProvider: 'cpu',
    traceId: `trace-${i}`,
    inputFeatures: null,
    outputFeatures: null,
    evaluationId: null,
    purpose: 'production',
  };
}

describe('an export of the prediction log, on PostgreSQL', () => {
  const each = migratedDatabasePerTest(createTestDatabase);
  let store: CountingStore;

  beforeEach(async () => {
    store = new CountingStore(each.db);
    for (let start = 0; start < ROWS; start += 1_000) await store.insertMany(Array.from({ length: 1_000 }, (_, i) => logged(start + i)));
    store.pagesRead = 0;
  });

  it('reads the next page only as the client takes the last: never more than two pages ahead of what it has received', async () => {
    const { body } = await new PredictionExportService(store).export({ model: 'depth' }, 'ndjson');
    const chunks = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    let text = '';
    let lines = 0;
    const ahead: number[] = [];
    const received = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      lines = text.split('\n').length - 1;
      ahead.push(store.pagesRead - Math.floor(lines / PAGE_ROWS));
    };
    received((await chunks.next()).value as Buffer);
    // A slow client: while it is busy elsewhere (200 round trips to the database), the export waits for it.
    for (let i = 0; i < 200; i += 1) await each.db.selectFrom('predictions').select('job_id').where('job_id', '=', 'job-00000').execute();
    expect(store.pagesRead).toBeLessThanOrEqual(2);
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) received(next.value);
    expect(Math.max(...ahead)).toBeLessThanOrEqual(2);
    // And all of it came, in order, each row once.
    expect(lines).toBe(ROWS);
    const ids = text
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { jobId: string }).jobId);
    expect(ids).toEqual(Array.from({ length: ROWS }, (_, i) => logged(i).jobId));
    expect(store.pagesRead).toBe(ROWS / PAGE_ROWS);
  });
});
