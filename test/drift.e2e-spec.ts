import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VersionDrift } from '../apps/api/src/drift/drift.service';
import { uploadDataset, writeFlatDepthDataset } from './support/datasets';
import { CAMERA_SIDE, cameraModelsDir, runCameraFrames, seeded } from './support/camera-frames';
import { FathomStack, LOAD_TEST_LIMITS_ENV } from './support/fathom-stack';

const SIDE = CAMERA_SIDE;

describe('drift: a model version watched against the data it was built for', () => {
  let stack: FathomStack;
  const random = seeded(15);

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi({ API_DRIFT_INTERVAL_MS: '300', ...LOAD_TEST_LIMITS_ENV });
    await stack.startWorker({
      MODELS_DIR: cameraModelsDir(),
      WORKER_BUILTIN_MODELS: 'false',
    });
  }, 120_000);
  afterAll(() => stack?.stop());

  /** Submits `count` frames, ten at a time (as reference profiling when `purpose` says so), and waits for every one to complete. */
  const run = (count: number, opts: { dim?: number; purpose?: 'reference' } = {}) =>
    runCameraFrames(stack, random, count, { ...opts, concurrency: 10 });

  async function drift(): Promise<VersionDrift> {
    const response = await fetch(`${stack.api.url}/v1/models/camera/drift`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { versions: VersionDrift[] }).versions[0]!;
  }

  /** Waits until every row of `ids` is in the prediction log (the drift window reads PostgreSQL). */
  /** Waits until the window holds `count` predictions, all finished at or after `since` when given. */
  async function logged(count: number, since?: Date): Promise<void> {
    const deadline = Date.now() + 20_000;
    const filled = ({ window }: VersionDrift) =>
      window.rows >= count && (!since || (window.from !== null && new Date(window.from) >= since));
    while (!filled(await drift()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  }

  async function metric(pattern: RegExp): Promise<number | undefined> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const match = pattern.exec(await (await fetch(stack.api.metricsUrl)).text());
      if (match) return Number(match[1]);
      if (Date.now() > deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /**
   * PUTs the version's reference, again until it holds `rows` predictions: a job's row reaches
   * PostgreSQL a moment after the job ends, so a PUT right after the last one may find it missing
   * (as `npm run drift -- reference` does too).
   */
  async function setReference(source: object, rows: number): Promise<{ status: number; body: Record<string, unknown> }> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const response = await fetch(`${stack.api.url}/v1/admin/models/camera/versions/1.0.0/drift-reference`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ source }),
      });
      const body = (await response.json()) as { rows?: number; error?: { details?: { rows?: number } } };
      const found = body.rows ?? body.error?.details?.rows;
      if (found === rows || Date.now() > deadline) return { status: response.status, body };
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it('refuses a reference from too few predictions, saying how many it needs', async () => {
    const ids = await run(5, { purpose: 'reference' });
    const { status, body } = await setReference({ jobs: ids }, 5);
    expect(status).toBe(422);
    expect(body).toMatchObject({ error: { code: 'reference_too_small', details: { rows: 5, needs: 200 } } });
  });

  it('scores production like the reference as no drift, and darker frames as input drift, over REST and on /metrics', async () => {
    const referenceJobs = await run(260, { purpose: 'reference' });
    const put = await setReference({ jobs: referenceJobs }, 260);
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ rows: 260, source: { jobs: referenceJobs } });

    // Reference profiling is not production: the window is still empty, and no score is given.
    expect(await drift()).toMatchObject({ window: { rows: 0 }, report: { scores: { input: null, output: null } } });

    await run(200);
    await logged(200);
    const same = await drift();
    expect(same.window.rows).toBe(200);
    expect(same.report!.flagged).toEqual({ input: false, output: false });
    expect(same.report!.scores.input).toBeLessThanOrEqual(0.2);
    // Each feature's histogram, reference beside production, with its bins' labels.
    const luma = same.report!.features.find((f) => f.name === 'input.meanLuma')!;
    expect(luma.bins.length).toBe(luma.reference.length);
    expect(luma.production.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(await metric(/^fathom_drift_score\{model="camera",version="1.0.0",side="input"\} (\S+)$/m)).toBeLessThanOrEqual(0.2);

    // The light goes: the window fills with darker frames.
    const darkFrom = new Date();
    await run(200, { dim: 0.5 });
    // Only the dark frames in the window: its oldest prediction finished after they began.
    await logged(200, darkFrom);
    const dark = await drift();
    expect(dark.report!.flagged.input).toBe(true);
    expect(dark.report!.scores.input).toBeGreaterThan(0.2);
    expect(dark.report!.features.find((f) => f.name === 'input.meanLuma')!.drift).toBeGreaterThan(0.2);
    const deadline = Date.now() + 10_000;
    let score = await metric(/^fathom_drift_score\{model="camera",version="1.0.0",side="input"\} (\S+)$/m);
    while ((score ?? 0) <= 0.2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      score = await metric(/^fathom_drift_score\{model="camera",version="1.0.0",side="input"\} (\S+)$/m);
    }
    expect(score).toBeGreaterThan(0.2);
    expect(await metric(/^fathom_drift_psi\{model="camera",version="1.0.0",feature="input.meanLuma"\} (\S+)$/m)).toBeGreaterThan(0.2);
  }, 300_000);

  it("re-baselines from the version's own first days of production, or from an evaluation run's samples", async () => {
    // Every production prediction so far (400: the same frames, then the dark ones) is in its first day.
    const firstDay = await setReference({ firstDays: 1 }, 400);
    expect(firstDay.status).toBe(200);
    expect(firstDay.body).toMatchObject({ rows: 400, source: { firstDays: 1 } });

    // An evaluation's samples are logged as such (never production), and can be the reference.
    const dir = mkdtempSync(join(tmpdir(), 'fathom-drift-dataset-'));
    await writeFlatDepthDataset(dir, { name: 'flat-frames', samples: 200, width: SIDE, height: SIDE });
    await uploadDataset(stack.api, dir);
    const started = await fetch(`${stack.api.url}/v1/evaluations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dataset: 'flat-frames', model: 'camera' }),
    });
    expect(started.status).toBe(202);
    const { id } = (await started.json()) as { id: string };
    const deadline = Date.now() + 240_000;
    let state = 'queued';
    while (!['completed', 'failed', 'cancelled'].includes(state) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      state = ((await (await fetch(`${stack.api.url}/v1/evaluations/${id}`)).json()) as { state: string }).state;
    }
    expect(state).toBe('completed');
    const fromEvaluation = await setReference({ evaluation: id }, 200);
    expect(fromEvaluation.status).toBe(200);
    expect(fromEvaluation.body).toMatchObject({ rows: 200, source: { evaluation: id } });
    // The window is still production's: the evaluation's 200 samples are not in it.
    expect((await drift()).window.rows).toBe(200);
    const stored = (await (await fetch(`${stack.api.url}/v1/admin/models/camera/versions/1.0.0/drift-reference`)).json()) as {
      profile: { rows: number; features: Array<{ name: string }> };
    };
    expect(stored.profile.rows).toBe(200);
    expect(stored.profile.features.map((f) => f.name)).toEqual(expect.arrayContaining(['input.meanLuma', 'output.range']));
  }, 300_000);
});
