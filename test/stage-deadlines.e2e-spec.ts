import sharp from 'sharp';
import type { JobAccepted } from '@fathom/contracts';
import { buildHangingDepthModel } from '@fathom/testing';
import { depthModelsDir, FathomStack, submit, type WorkerProcess } from './support/fathom-stack';
import { parseExposition } from './support/prometheus-exposition';

const MODEL = 'hang';
/** The inference limit under test: a few hundred ms, where a real deployment allows minutes. */
const LIMIT_MS = 300;
const GRACE_MS = 1000;

/**
 * A model that meets an input it cannot handle: the hanging stand-in loops for hours in native code
 * on a white image (nothing in JavaScript can stop it), and answers a dark one at once.
 */
describe('stage deadlines: a job whose inference never ends fails inference_timeout, and the worker keeps serving', () => {
  let stack: FathomStack;
  let worker: WorkerProcess;
  let modelsDir: string;
  let white: Buffer;
  let dark: Buffer;

  const workerEnv = (env: Record<string, string> = {}) => ({
    MODELS_DIR: modelsDir,
    WORKER_BUILTIN_MODELS: 'false',
    // One core per stuck run, not all of them spinning.
    ORT_INTRA_OP_THREADS: '1',
    WORKER_INFERENCE_TIMEOUT_MS: String(LIMIT_MS),
    WORKER_SHUTDOWN_GRACE_MS: String(GRACE_MS),
    ...env,
  });

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi({ API_JOB_ATTEMPTS: '2', API_JOB_BACKOFF_MS: '20' });
    modelsDir = depthModelsDir(buildHangingDepthModel(), MODEL, { input: { resize: { mode: 'fixed', width: 28, height: 28 } } });
    worker = await stack.startWorker(workerEnv({ WORKER_MAX_HUNG_THREADS: '2' }));
    const solid = (background: string) =>
      sharp({ create: { width: 28, height: 28, channels: 3, background } })
        .png()
        .toBuffer();
    [white, dark] = await Promise.all([solid('#ffffff'), solid('#202020')]);
  });
  afterAll(() => stack.stop());

  const submitJob = async (image: Buffer) => (await (await submit(stack.api, { image, model: MODEL })).json()) as JobAccepted;

  it('fails the job inference_timeout after its attempts, naming the stage and the limit, and logs each timeout with the job', async () => {
    const job = await submitJob(white);
    const status = await stack.jobEnd(job.id);
    expect(status).toMatchObject({
      state: 'failed',
      attempts: 2,
      error: {
        code: 'inference_timeout',
        message: `The inference stage ran past its limit of ${LIMIT_MS} ms (WORKER_INFERENCE_TIMEOUT_MS); the inference thread was replaced.`,
      },
    });
    const timeouts = worker
      .output()
      .split('\n')
      .filter((line) => line.includes('"msg":"stage timed out'))
      .map((line) => JSON.parse(line) as { jobId: string; stage: string; limitMs: number; attempt: number });
    expect(timeouts).toEqual([
      expect.objectContaining({ jobId: job.id, stage: 'inference', limitMs: LIMIT_MS, attempt: 1 }),
      expect.objectContaining({ jobId: job.id, stage: 'inference', limitMs: LIMIT_MS, attempt: 2 }),
    ]);
  });

  it('then completes a normal job on a thread that replaced the stuck ones, and shows both in its metrics', async () => {
    const job = await submitJob(dark);
    expect(await stack.jobEnd(job.id)).toMatchObject({ state: 'completed', error: null });
    expect((await fetch(`${stack.api.url}/v1/jobs/${job.id}/result`)).status).toBe(200);

    const scrape = parseExposition(await (await fetch(await FathomStack.metricsUrl(worker))).text());
    const value = (name: string, labels: Record<string, string> = {}) =>
      scrape.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).map((s) => s.value);
    expect(value('fathom_job_stage_timeouts_total', { model: MODEL, stage: 'inference' })).toEqual([2]);
    expect(value('fathom_jobs_failed_total', { model: MODEL, code: 'inference_timeout', final: 'true' })).toEqual([1]);
    // Both stuck threads still loop in native code: retired, never terminated (that would abort the worker).
    expect(value('fathom_worker_inference_threads_hung')).toEqual([2]);
    expect(value('fathom_jobs_completed_total', { model: MODEL })).toEqual([1]);
  });

  it('on SIGTERM exits within its grace though two threads are stuck in native code (process.exit would wait on them)', async () => {
    worker.kill('SIGTERM');
    expect(await worker.waitForExit(GRACE_MS + 10_000)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(worker.output()).toContain('"msg":"worker stopped"');
    expect(worker.output()).toContain('"msg":"exiting by SIGKILL: hung inference threads would hold process.exit","hung":2,"code":0');
  });

  it('past WORKER_MAX_HUNG_THREADS, drains and exits by itself, for its supervisor to start a fresh one', async () => {
    const strict = await stack.startWorker(workerEnv({ WORKER_MAX_HUNG_THREADS: '0', WORKER_ID: 'strict' }));
    await submitJob(white);
    expect(await strict.waitForExit(30_000)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(strict.output()).toContain('"msg":"too many hung inference threads: draining, then exiting"');
    // The retry (20 ms backoff) may be taken before the consumer closes: then the grace ends the drain.
    expect(strict.output()).toContain('"msg":"shutting down: finishing jobs in flight"');
    // One hung thread, or two when the retry was taken before the consumer closed (the same job again).
    expect(strict.output()).toMatch(/"msg":"exiting by SIGKILL: hung inference threads would hold process.exit","hung":[12],"code":1/);
  });
});
