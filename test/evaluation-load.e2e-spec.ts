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
 * the p95 without it, measured in the same run (rounds alone and beside, interleaved).
 */
/** Interleaved rounds of user jobs alone and beside a run, and the jobs of each. */
const ROUNDS = 4;
const PER_ROUND = 30;
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
  async function userLatencies(jobs: number): Promise<number[]> {
    const totals: number[] = [];
    for (let i = 0; i < jobs; i++) {
      const response = await submit(api, { image: photo, filename: 'photo.png', model: 'depth-test' });
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as JobAccepted;
      const status = await stack.jobEnd(id);
      expect(status.state).toBe('completed');
      totals.push(status.timings!.total);
    }
    return totals;
  }

  const view = async (id: string) => (await (await fetch(`${api.url}/v1/evaluations/${id}`)).json()) as EvaluationView;

  async function until(id: string, done: (v: EvaluationView) => boolean, timeoutMs = 240_000): Promise<EvaluationView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const current = await view(id);
      if (done(current)) return current;
      if (Date.now() > deadline) throw new Error(`evaluation ${id}: ${current.state} ${JSON.stringify(current.progress)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it(`user jobs keep their p95 (within 1.5×) while ${SAMPLES} samples are evaluated on the same version`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fathom-eval-load-'));
    await writeFlatDepthDataset(dir, { name: 'flat-load', samples: SAMPLES });
    await uploadDataset(api, dir);
    await userLatencies(20); // warm-up: first jobs pay for connections and JIT

    // Rounds alone and beside a run, interleaved, so that whatever else the machine does (another
    // test file, here) falls on both alike; each run is cancelled after its round but the last.
    const alone: number[] = [];
    const beside: number[] = [];
    let last: EvaluationView | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      alone.push(...(await userLatencies(PER_ROUND)));
      const started = await fetch(`${api.url}/v1/evaluations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ dataset: 'flat-load', model: 'depth-test' }),
      });
      expect(started.status).toBe(202);
      const { id } = (await started.json()) as EvaluationView;
      await until(id, (v) => v.progress.done >= 4);
      beside.push(...(await userLatencies(PER_ROUND)));
      // The evaluation really ran alongside: still going when the user's last job ended.
      last = await view(id);
      expect(last.state).toBe('running');
      if (round < ROUNDS - 1) {
        expect((await fetch(`${api.url}/v1/evaluations/${id}`, { method: 'DELETE' })).status).toBe(202);
        await until(id, (v) => v.state === 'cancelled');
      }
    }
    const [p95Alone, p95Beside] = [percentile(alone, 95), percentile(beside, 95)];
    console.log(
      `user p95 ${p95Alone.toFixed(1)} ms alone, ${p95Beside.toFixed(1)} ms beside the evaluation (×${(p95Beside / p95Alone).toFixed(2)}), ` +
        `${ROUNDS} interleaved rounds of ${PER_ROUND} jobs; the last run at ${last!.progress.done}/${SAMPLES} when its round ended`,
    );
    expect(p95Beside).toBeLessThanOrEqual(1.5 * p95Alone);

    // …and the last run finishes every sample.
    expect(await until(last!.id, (v) => v.state !== 'running' && v.state !== 'queued')).toMatchObject({
      state: 'completed',
      progress: { total: SAMPLES, done: SAMPLES, failed: 0 },
    });
  }, 400_000);
});
