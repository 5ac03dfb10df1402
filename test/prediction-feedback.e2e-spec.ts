import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import type { FeedbackResponse, JobAccepted } from '@fathom/contracts';
import { createDatabase, PredictionStore, type Database, type PredictionRow } from '@fathom/database';
import { buildSlowDepthModel, startTcpProxy, type TcpProxy } from '@fathom/testing';
import { bearer, depthModelsDir, FathomStack, submit, type ApiInstance } from './support/fathom-stack';

/** The stand-in runs only on SIDE × SIDE inputs, for a few seconds: long enough to be rated while it runs. */
const SIDE = 518;
const MODEL = 'slow-depth';

interface Key {
  id: string;
  key: string;
}
type ErrorReply = { error: { code: string; message: string; details?: unknown } };

/**
 * Feedback as a client gives it (issue 15): the owner of a finished job rates it thumbs up or down,
 * with a comment or a correction, and an operator finds it on the job's row in the prediction log
 * and in fathom_feedback_total.
 */
describe("feedback on a job: its owner's rating lands on the job's row in the prediction log", () => {
  let stack: FathomStack;
  let api: ApiInstance;
  let db: Database;
  let store: PredictionStore;
  let image: Buffer;
  let alice: Key;
  let bob: Key;

  const feedback = (jobId: string, key: string, body: unknown) =>
    fetch(`${api.url}/v1/jobs/${jobId}/feedback`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const finishedJob = async (key: string): Promise<string> => {
    const response = await submit(api, { image, model: MODEL }, bearer(key));
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as JobAccepted;
    expect((await stack.jobEnd(id, { key })).state).toBe('completed');
    return id;
  };
  const rowOf = async (jobId: string): Promise<PredictionRow | undefined> => (await store.page({ jobIds: [jobId], limit: 1 })).rows[0];
  /** The job's row once the log has written it (seconds after the job's end). */
  const loggedRow = async (jobId: string, timeoutMs = 15_000): Promise<PredictionRow> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await rowOf(jobId);
      if (row) return row;
      if (Date.now() > deadline) throw new Error(`job ${jobId} has no row in the prediction log after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const feedbackCount = async (rating: string, version: string): Promise<number> => {
    const text = await (await fetch(api.metricsUrl)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`fathom_feedback_total{model="${MODEL}",version="${version}",rating="${rating}"}`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  };

  beforeAll(async () => {
    stack = await FathomStack.start();
    alice = await stack.createKey('alice', ['jobs:write', 'jobs:read']);
    bob = await stack.createKey('bob', ['jobs:write', 'jobs:read']);
    api = await stack.startApi({ API_AUTH: 'keys', API_JOB_ATTEMPTS: '1' });
    await stack.startWorker({
      MODELS_DIR: depthModelsDir(buildSlowDepthModel({ side: SIDE, matmulLayers: 600 }), MODEL),
      WORKER_BUILTIN_MODELS: 'false',
      WORKER_CONCURRENCY: '1',
    });
    db = createDatabase({
      url: stack.database.url,
      poolSize: 2,
      statementTimeoutMs: 5_000,
      connectTimeoutMs: 2_000,
      applicationName: 'fathom-test',
    });
    store = new PredictionStore(db);
    image = await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background: { r: 30, g: 90, b: 160 } } })
      .png()
      .toBuffer();
  }, 120_000);
  afterAll(async () => {
    await db?.destroy();
    await stack?.stop();
  });

  it('refuses a rating while the job runs (409), takes it once it has finished, and keeps the last one sent', async () => {
    const submitted = await submit(api, { image, model: MODEL }, bearer(alice.key));
    const job = (await submitted.json()) as JobAccepted;
    await stack.jobStarted(job.id, { key: alice.key });

    const early = await feedback(job.id, alice.key, { rating: 'up' });
    expect(early.status).toBe(409);
    expect(((await early.json()) as ErrorReply).error).toMatchObject({
      code: 'result_not_ready',
      message: expect.stringContaining('finished'),
    });

    const { model } = await stack.jobEnd(job.id, { key: alice.key });
    const downBefore = await feedbackCount('down', model.version);
    // Rated as soon as the result is seen: the row may still be on its way to PostgreSQL, and the answer waits for it.
    const correction = { label: 'a bowl of soup', boxes: [[10, 20, 110, 220]] };
    const rated = await feedback(job.id, alice.key, { rating: 'down', comment: 'the far wall reads as near', correction });
    expect(rated.status).toBe(200);
    const answer = (await rated.json()) as FeedbackResponse;
    expect(answer).toEqual({
      jobId: job.id,
      model: { name: MODEL, version: model.version },
      feedback: { rating: 'down', comment: 'the far wall reads as near', correction, at: expect.any(String), by: alice.id },
    });

    // What an operator finds in PostgreSQL: the rating beside the version that answered.
    expect(await rowOf(job.id)).toMatchObject({
      jobId: job.id,
      status: 'completed',
      model: MODEL,
      version: model.version,
      keyId: alice.id,
      feedback: { rating: 'down', comment: 'the far wall reads as near', correction, by: alice.id },
    });
    expect(await feedbackCount('down', model.version)).toBe(downBefore + 1);

    // A changed mind replaces the rating, and what it left out.
    const changed = await feedback(job.id, alice.key, { rating: 'up' });
    expect(changed.status).toBe(200);
    expect((await rowOf(job.id))?.feedback).toMatchObject({ rating: 'up', comment: null, correction: null });
  });

  it("answers feedback on another key's job exactly as on a job that never existed (404), and stores nothing", async () => {
    const jobId = await finishedJob(alice.key);
    const never = randomUUID();
    const status = await fetch(`${api.url}/v1/jobs/${never}`, { headers: bearer(bob.key) });
    const unknownBody = await status.json();
    expect(unknownBody).toEqual({ error: { code: 'job_not_found', message: `No job with id "${never}".` } });

    const onUnknown = await feedback(never, bob.key, { rating: 'down' });
    expect([onUnknown.status, await onUnknown.json()]).toEqual([404, unknownBody]);
    const onAlices = await feedback(jobId, bob.key, { rating: 'down' });
    expect([onAlices.status, await onAlices.json()]).toEqual([
      404,
      { error: { code: 'job_not_found', message: `No job with id "${jobId}".` } },
    ]);
    // Alice's row has not been touched, once it is there.
    expect((await feedback(jobId, alice.key, { rating: 'up' })).status).toBe(200);
    expect((await rowOf(jobId))?.feedback).toMatchObject({ rating: 'up', by: alice.id });
  });

  it('answers a body it cannot take with 400 invalid_request, naming the field and what to send', async () => {
    const jobId = await finishedJob(alice.key);
    const cases: Array<[unknown, string]> = [
      [{ rating: 'sideways' }, 'rating'],
      [{}, 'rating'],
      [{ rating: 'up', comment: 'x'.repeat(2001) }, 'comment'],
      [{ rating: 'up', correction: { mask: 'x'.repeat(70_000) } }, 'correction'],
      [{ rating: 'up', stars: 5 }, 'stars'],
    ];
    for (const [body, field] of cases) {
      const response = await feedback(jobId, alice.key, body);
      const { error } = (await response.json()) as ErrorReply;
      expect([field, response.status, error.code]).toEqual([field, 400, 'invalid_request']);
      expect(error.message).toContain(field);
      expect(error.message).toContain('"rating": "up" | "down"');
    }
    // None of them was stored.
    expect((await loggedRow(jobId)).feedback).toBeNull();
  });

  it('is documented in the OpenAPI document: its body, its answer and its refusals', async () => {
    const doc = (await (await fetch(`${api.url}/docs/openapi.json`)).json()) as {
      paths: Record<string, { post?: { requestBody?: unknown; responses?: Record<string, unknown> } }>;
    };
    const route = doc.paths['/v1/jobs/{id}/feedback']?.post;
    expect(Object.keys(route?.responses ?? {}).sort()).toEqual(['200', '400', '404', '409', '410', '503']);
    expect(JSON.stringify(route?.requestBody)).toMatch(/Feedback/);
  });
});

describe('feedback while PostgreSQL is away: refused with Retry-After, never dropped unsaid', () => {
  let stack: FathomStack;
  let proxy: TcpProxy;
  let db: Database;

  beforeAll(async () => {
    stack = await FathomStack.start();
    const server = new URL(stack.database.url);
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    // The API reaches PostgreSQL only through the proxy, so cutting it is PostgreSQL going away.
    await stack.startApi({ DATABASE_URL: proxy.proxied(stack.database.url) });
    await stack.startWorker({
      MODELS_DIR: depthModelsDir(buildSlowDepthModel({ side: 64, matmulLayers: 1 }), 'fast', {
        input: { resize: { mode: 'fixed', width: 64, height: 64 } },
      }),
      WORKER_BUILTIN_MODELS: 'false',
    });
    db = createDatabase({
      url: stack.database.url,
      poolSize: 1,
      statementTimeoutMs: 5_000,
      connectTimeoutMs: 2_000,
      applicationName: 'fathom-test',
    });
  }, 120_000);
  afterAll(async () => {
    await db?.destroy();
    await proxy?.close();
    await stack?.stop();
  });

  it('answers 503 with Retry-After while the row cannot be written; a client that retries as told gets it stored', async () => {
    const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const send = () =>
      fetch(`${stack.api.url}/v1/jobs/${job.id}/feedback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rating: 'down', comment: 'rated during the outage' }),
      });
    // One job before the outage: the API has read what a submission needs from PostgreSQL (the catalog).
    const first = await submit(stack.api, { image, model: 'fast' });
    expect(first.status).toBe(202);
    await stack.jobEnd(((await first.json()) as JobAccepted).id);
    await proxy.cut();
    // The job runs and ends without PostgreSQL; its record waits in Redis.
    const submitted = await submit(stack.api, { image, model: 'fast' });
    expect(submitted.status).toBe(202);
    const job = (await submitted.json()) as JobAccepted;
    expect((await stack.jobEnd(job.id)).state).toBe('completed');
    const refused: Array<{ status: number; retryAfter: string | null; code: string }> = [];
    try {
      const during = await send();
      refused.push({
        status: during.status,
        retryAfter: during.headers.get('retry-after'),
        code: ((await during.json()) as ErrorReply).error.code,
      });
    } finally {
      await proxy.restore();
    }
    // What a client does with a 503: waits Retry-After and sends again, until it is stored.
    let answer: Response | undefined;
    for (let attempt = 0; attempt < 30; attempt++) {
      const response = await send();
      if (response.status !== 503) {
        answer = response;
        break;
      }
      const retryAfter = response.headers.get('retry-after');
      refused.push({ status: 503, retryAfter, code: ((await response.json()) as ErrorReply).error.code });
      await new Promise((resolve) => setTimeout(resolve, Number(retryAfter) * 1000));
    }
    expect(refused[0]).toEqual({ status: 503, retryAfter: expect.stringMatching(/^\d+$/), code: 'store_unavailable' });
    for (const r of refused)
      expect(r).toEqual({
        status: 503,
        retryAfter: expect.stringMatching(/^\d+$/),
        code: expect.stringMatching(/^(store_unavailable|prediction_not_logged)$/),
      });
    expect(answer?.status).toBe(200);
    const { rows } = await new PredictionStore(db).page({ jobIds: [job.id], limit: 1 });
    expect(rows[0]?.feedback).toMatchObject({ rating: 'down', comment: 'rated during the outage', by: 'local' });
  }, 120_000);
});
