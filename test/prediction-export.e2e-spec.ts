import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { JobAccepted } from '@fathom/contracts';
import { createDatabase, PredictionStore, type Database, type NewPrediction, type PredictionRow } from '@fathom/database';
import { bearer, depthModelsDir, FathomStack, NULL_MODEL_INPUT, submit, type ApiInstance } from './support/fathom-stack';

interface Key {
  id: string;
  key: string;
}
type ErrorReply = { error: { code: string; message: string } };
interface Page {
  items: PredictionRow[];
  next: string | null;
}

const DAY_MS = 86_400_000;
/** Jobs run through the stack for the export tests. */
const JOBS = 5;

/** A finished job as the log keeps it, for rows a test sets up in PostgreSQL directly. */
function loggedRow(jobId: string, model: string, finishedAt: string): NewPrediction {
  return {
    jobId,
    finishedAt,
    submittedAt: null,
    model,
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
  };
}

/**
 * The prediction log's export and retention (issue 15), as an operator meets them: real jobs run
 * through the stack and read back as JSON pages, NDJSON and CSV with an admin key; other keys are
 * refused; old rows go, each model after its own retention, while the API runs.
 */
describe('GET /v1/predictions and retention: the prediction log for admins', () => {
  let stack: FathomStack;
  let api: ApiInstance;
  let admin: Key;
  let client: Key;
  let db: Database;
  let store: PredictionStore;
  const jobIds: string[] = [];

  /** GET /v1/predictions with the admin's key, another key, or none (null). */
  const call = (query: string, key: string | null = admin.key, headers: Record<string, string> = {}) =>
    fetch(`${api.url}/v1/predictions${query}`, { headers: { ...bearer(key ?? undefined), ...headers } });
  const page = async (query: string): Promise<Page> => {
    const response = await call(query);
    expect(response.status).toBe(200);
    return (await response.json()) as Page;
  };
  const refusal = async (response: Response) => [response.status, ((await response.json()) as ErrorReply).error];

  beforeAll(async () => {
    stack = await FathomStack.start();
    admin = await stack.createKey('ops', ['models:admin']);
    client = await stack.createKey('alice', ['jobs:write', 'jobs:read']);
    // Retention rounds every 200 ms, so the test sees one soon after it sets up old rows.
    api = await stack.startApi({ API_AUTH: 'keys', API_KEY_CACHE_MS: '0', API_PREDICTION_RETENTION_INTERVAL_MS: '200' });
    // Two cheap models: depth-test keeps rows the default 30 days, depth-short's manifest says 7.
    const modelsDir = depthModelsDir(undefined, 'depth-test', NULL_MODEL_INPUT);
    writeFileSync(
      join(modelsDir, 'depth-short.model.json'),
      JSON.stringify({
        name: 'depth-short',
        version: '1.0.0',
        task: 'depth',
        weights: 'depth-test.onnx',
        ...NULL_MODEL_INPUT,
        predictions: { retentionDays: 7 },
      }),
    );
    await stack.startWorker({ MODELS_DIR: modelsDir, WORKER_BUILTIN_MODELS: 'false' });
    db = createDatabase({
      url: stack.database.url,
      poolSize: 2,
      statementTimeoutMs: 5_000,
      connectTimeoutMs: 2_000,
      applicationName: 'fathom-test',
    });
    store = new PredictionStore(db);

    for (let i = 0; i < JOBS; i += 1) {
      const image = await sharp({ create: { width: 40 + i, height: 30, channels: 3, background: { r: 30 * i, g: 100, b: 200 } } })
        .png()
        .toBuffer();
      const response = await submit(api, { image, model: 'depth-test' }, bearer(client.key));
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as JobAccepted;
      expect((await stack.jobEnd(id, { key: client.key })).state).toBe('completed');
      jobIds.push(id);
    }
    // The rows land within seconds of the jobs' ends (the ingester writes them from Redis).
    const deadline = Date.now() + 15_000;
    while ((await store.page({ model: 'depth-test', limit: JOBS })).rows.length < JOBS) {
      if (Date.now() > deadline) throw new Error('the jobs have no rows in the prediction log after 15 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 120_000);
  afterAll(async () => {
    await db?.destroy();
    await stack?.stop();
  });

  it('pages the log as JSON, oldest first: the cursor walks every job once and the last page says there is no next', async () => {
    const walked: PredictionRow[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const { items, next }: Page = await page(
        `?model=depth-test&limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      walked.push(...items);
      sizes.push(items.length);
      cursor = next;
    } while (cursor !== null);
    expect(sizes).toEqual([2, 2, 1]);
    expect(walked.map((row) => row.jobId)).toEqual(jobIds);
    expect(walked[0]).toMatchObject({
      model: 'depth-test',
      version: '1.0.0',
      status: 'completed',
      purpose: 'production',
      keyId: client.id,
      executionProvider: 'cpu',
      timings: expect.objectContaining({ inference: expect.any(Number), total: expect.any(Number) }),
    });
    // Filters narrow it: no failed job, nothing before the first job, nothing of another model.
    expect((await page('?model=depth-test&status=failed')).items).toEqual([]);
    expect((await page(`?model=depth-test&to=${encodeURIComponent(walked[0]!.finishedAt)}`)).items).toEqual([]);
    expect((await page(`?model=depth-test&from=${encodeURIComponent(walked[4]!.finishedAt)}`)).items.map((r) => r.jobId)).toEqual([
      jobIds[4],
    ]);
    expect((await page('?model=depth-short')).items).toEqual([]);
  });

  it('streams the whole filtered log as NDJSON, asked by format or by Accept', async () => {
    const json = (await page('?model=depth-test&limit=1000')).items;
    for (const [query, headers] of [
      ['?model=depth-test&format=ndjson', {}],
      ['?model=depth-test', { accept: 'application/x-ndjson' }],
    ] as const) {
      const response = await call(query, admin.key, headers);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
      expect(response.headers.get('content-disposition')).toBe('attachment; filename="predictions-depth-test.ndjson"');
      const lines = (await response.text()).split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.map((line) => JSON.parse(line) as PredictionRow)).toEqual(json);
    }
  });

  it('exports CSV with a header row and the features flattened, one column per histogram bin', async () => {
    const response = await call('?model=depth-test', admin.key, { accept: 'text/csv' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="predictions-depth-test.csv"');
    const [header, ...records] = (await response.text()).split('\r\n');
    expect(records.pop()).toBe('');
    const columns = header!.split(',');
    expect(columns.slice(0, 4)).toEqual(['jobId', 'finishedAt', 'submittedAt', 'model']);
    expect(columns.filter((column) => column.startsWith('input.histogram.'))).toHaveLength(24);
    // No cell of these rows holds a comma (no JSON cell, no feedback text), so a split reads them.
    const cellsOf = (record: string): Record<string, string> =>
      Object.fromEntries(record.split(',').map((cell, i) => [columns[i]!, cell] as [string, string]));
    expect(records.map((record) => cellsOf(record).jobId)).toEqual(jobIds);
    expect(cellsOf(records[0]!)).toMatchObject({ model: 'depth-test', status: 'completed', executionProvider: 'cpu' });

    // A row with every feature (set up in the log directly: a depth job's input and output), read back cell by cell.
    const histogram = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.25, 0.75];
    await store.insertMany([
      {
        ...loggedRow('profiled-1', 'profiled', new Date().toISOString()),
        inputFeatures: {
          bytes: 1234,
          format: 'jpeg',
          width: 640,
          height: 480,
          megapixels: 0.3072,
          orientation: 6,
          meanLuma: 101.5,
          contrast: 40.25,
          sharpness: 812.5,
          colourfulness: 33,
          saturation: 0.42,
          clipped: 0.01,
          histogram,
        },
        outputFeatures: { task: 'depth', min: 0, max: 2, range: 2, mean: 1.1, p5: 0.1, p50: 1, p95: 1.9, near: 0.12, far: 0.08 },
      },
    ]);
    const csv = await (await call('?model=profiled&format=csv')).text();
    const [, profiled] = csv.split('\r\n');
    expect(cellsOf(profiled!)).toMatchObject({
      jobId: 'profiled-1',
      'input.format': 'jpeg',
      'input.width': '640',
      'input.orientation': '6',
      'input.meanLuma': '101.5',
      'input.sharpness': '812.5',
      'input.histogram.r0': '1',
      'input.histogram.g1': '0.5',
      'input.histogram.b6': '0.25',
      'input.histogram.b7': '0.75',
      'output.task': 'depth',
      'output.range': '2',
      'output.p95': '1.9',
      'output.topLabel': '',
      'feedback.rating': '',
    });
  });

  it('is for models:admin keys only: 401 without a key, 403 naming the scope for a client key', async () => {
    expect(await refusal(await call('', null))).toEqual([401, expect.objectContaining({ code: 'unauthorized' })]);
    expect(await refusal(await call('', client.key))).toEqual([
      403,
      expect.objectContaining({ code: 'forbidden', message: expect.stringContaining('models:admin') }),
    ]);
  });

  it('is in the OpenAPI document with its filters, its three formats and its page', async () => {
    type Operation = {
      parameters: Array<{ name: string }>;
      responses: Record<string, { content?: Record<string, unknown> }>;
    };
    const doc = (await (await fetch(`${api.url}/docs/openapi.json`)).json()) as { paths: Record<string, { get?: Operation }> };
    const get = doc.paths['/v1/predictions']?.get;
    expect(get?.parameters.map((p) => p.name).sort()).toEqual([
      'cursor',
      'format',
      'from',
      'limit',
      'model',
      'purpose',
      'status',
      'to',
      'version',
    ]);
    expect(Object.keys(get?.responses['200']?.content ?? {})).toEqual(['application/json', 'application/x-ndjson', 'text/csv']);
  });

  it('answers a bad request with 400 invalid_request naming the parameter and what to send', async () => {
    const cases: Array<[string, RegExp]> = [
      ['?cursor=not-a-cursor', /"cursor".*`next` of the previous page/],
      [`?cursor=${Buffer.from('["yesterday","x"]').toString('base64url')}`, /"cursor"/],
      ['?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z', /"from" .* must be before "to"/],
      ['?from=yesterday', /"from".*ISO 8601/],
      ['?status=done', /"status".*completed, failed, cancelled/],
      ['?limit=5000', /"limit".*1 to 1000/],
      ['?format=xml', /"format".*json, ndjson, csv/],
      ['?modle=depth-test', /Unknown query parameter "modle"/],
      ['?format=csv&cursor=abc', /"cursor" pages the JSON format/],
    ];
    for (const [query, message] of cases) {
      expect([query, ...(await refusal(await call(query)))]).toEqual([
        query,
        400,
        expect.objectContaining({ code: 'invalid_request', message: expect.stringMatching(message) }),
      ]);
    }
  });

  it('deletes rows older than their model’s retention while the API runs, the manifest’s override before the default', async () => {
    const now = Date.now();
    const row = (jobId: string, model: string, ageDays: number) => loggedRow(jobId, model, new Date(now - ageDays * DAY_MS).toISOString());
    // depth-test: the default 30 days; depth-short: its manifest's 7; retired-model: no worker declares it, the default.
    await store.insertMany([
      row('default-40-days', 'depth-test', 40),
      row('default-10-days', 'depth-test', 10),
      row('short-10-days', 'depth-short', 10),
      row('short-1-day', 'depth-short', 1),
      row('undeclared-40-days', 'retired-model', 40),
      row('undeclared-10-days', 'retired-model', 10),
    ]);

    const expired = ['default-40-days', 'short-10-days', 'undeclared-40-days'];
    const deadline = Date.now() + 15_000;
    while ((await store.page({ jobIds: expired, limit: 10 })).rows.length > 0) {
      if (Date.now() > deadline) throw new Error('expired rows still in the log after 15 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const kept = (await store.page({ limit: 100 })).rows.map((r) => r.jobId);
    expect(kept).toEqual(expect.arrayContaining(['default-10-days', 'short-1-day', 'undeclared-10-days', 'profiled-1', ...jobIds]));
    expect(kept).toHaveLength(4 + JOBS);

    const metrics = await (await fetch(api.metricsUrl)).text();
    for (const model of ['depth-test', 'depth-short', 'retired-model'])
      expect(metrics).toContain(`fathom_predictions_deleted_total{model="${model}"} 1`);
  });
});
