import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { EvaluationView, JobAccepted } from '@fathom/contracts';
import { percentile } from '@fathom/evaluation';
import { buildDepthStandInModel } from '@fathom/testing';
import { uploadDataset, writeFlatDepthDataset } from './support/datasets';
import { depthModelsDir, FathomStack, LOAD_TEST_LIMITS_ENV, NULL_MODEL_INPUT, submit, type ApiInstance } from './support/fathom-stack';

/**
 * The load story: an evaluation of a few hundred samples runs on the version users are
 * using, and their jobs keep their latency — evaluation jobs wait behind every user job (a lower
 * BullMQ priority) and a run keeps only API_EVAL_WINDOW of them in flight. The user's p95 (accepted
 * → result stored, as the job's own timings say) with the evaluation running stays within 1.5× of
 * the p95 without it, measured in the same run.
 */
const USER_JOBS = 100;
const SAMPLES = 400;

describe('an evaluation beside user traffic', () => {
  let stack: FathomStack;
  let api: ApiInstance;
  let photo: Buffer;

  beforeAll(async () => {
    stack = await FathomStack.start();
    api = await stack.startApi({ ...LOAD_TEST_LIMITS_ENV });
    await stack.startWorker({
      MODELS_DIR: depthModelsDir(buildDepthStandInModel(), 'depth-test', NULL_MODEL_INPUT),
      WORKER_BUILTIN_MODELS: 'false',
    });
    photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 90, g: 120, b: 150 } } })
      .png()
      .toBuffer();
  }, 120_000);
  afterAll(() => stack?.stop());

  /** One user at a time, as a client waiting for each result: the jobs' accepted → stored times. */
  async function userLatencies(): Promise<number[]> {
    const totals: number[] = [];
    for (let i = 0; i < USER_JOBS; i++) {
      const response = await submit(api, { image: photo, filename: 'photo.png', model: 'depth-test' });
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as JobAccepted;
      const status = await stack.jobEnd(id);
      expect(status.state).toBe('completed');
      totals.push(status.timings!.total);
    }
    return totals;
  }

  it(`user jobs keep their p95 (within 1.5×) while ${SAMPLES} samples are evaluated on the same version`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fathom-eval-load-'));
    await writeFlatDepthDataset(dir, { name: 'flat-load', samples: SAMPLES });
    await uploadDataset(api, dir);

    await userLatencies(); // warm-up: first jobs pay for connections and JIT
    const alone = percentile(await userLatencies(), 95);

    const started = await fetch(`${api.url}/v1/evaluations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dataset: 'flat-load', model: 'depth-test' }),
    });
    expect(started.status).toBe(202);
    const { id } = (await started.json()) as EvaluationView;
    // Wait until the run has jobs in flight, then measure while it goes on.
    for (;;) {
      const view = (await (await fetch(`${api.url}/v1/evaluations/${id}`)).json()) as EvaluationView;
      if (view.progress.done >= 4) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const beside = percentile(await userLatencies(), 95);
    const during = (await (await fetch(`${api.url}/v1/evaluations/${id}`)).json()) as EvaluationView;
    console.log(
      `user p95 ${alone.toFixed(1)} ms alone, ${beside.toFixed(1)} ms beside the evaluation (×${(beside / alone).toFixed(2)}); evaluation at ${during.progress.done}/${SAMPLES}`,
    );
    // The evaluation really ran alongside: still going when the user's last job ended.
    expect(during.state).toBe('running');
    expect(beside).toBeLessThanOrEqual(1.5 * alone);

    const deadline = Date.now() + 240_000;
    let view = during;
    while (view.state === 'running' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      view = (await (await fetch(`${api.url}/v1/evaluations/${id}`)).json()) as EvaluationView;
    }
    expect(view).toMatchObject({ state: 'completed', progress: { total: SAMPLES, done: SAMPLES, failed: 0 } });
  }, 300_000);
});
