import { Redis } from 'ioredis';
import sharp from 'sharp';
import type { JobAccepted } from '@fathom/contracts';
import { buildSlowDepthModel } from '@fathom/testing';
import { depthModelsDir, FathomStack, nextEvent, submit, subscribe } from './support/fathom-stack';

/** The slow stand-in needs a square input of its side: a 518×518 image maps to a 518×518 tensor. */
const SIDE = 518;

describe('jobs that take a while: progress, cancel, sync timeout, back-pressure and graceful shutdown', () => {
  let stack: FathomStack;
  let image: Buffer;
  let modelsDir: string;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi({ API_INFER_TIMEOUT_MS: '100', API_MAX_QUEUE_DEPTH: '3', API_RETRY_AFTER_SECONDS: '7' });
    modelsDir = depthModelsDir(buildSlowDepthModel({ side: SIDE }), 'slow-depth');
    await stack.startWorker({ MODELS_DIR: modelsDir, WORKER_BUILTIN_MODELS: 'false', WORKER_CONCURRENCY: '1' });
    image = await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background: { r: 90, g: 120, b: 150 } } })
      .png()
      .toBuffer();
  });
  afterAll(() => stack.stop());

  const submitSlow = async () => (await (await submit(stack.api, { image, model: 'slow-depth' })).json()) as JobAccepted;

  it('reports progress at the stage boundaries of stages that last, and the result is not ready until the end', async () => {
    const socket = await stack.connect();
    // The one worker slot is busy with `ahead`, so `job` is still queued when we subscribe.
    const ahead = await submitSlow();
    await stack.jobStarted(ahead.id);
    const job = await submitSlow();
    const stages: string[] = [];
    socket.on('job.progress', (e) => e.jobId === job.id && stages.push(`${e.progress.stage}:${e.progress.percent}`));
    const inference = nextEvent(socket, 'job.progress', (e) => e.jobId === job.id && e.progress.stage === 'inference');
    const completed = nextEvent(socket, 'job.completed', (e) => e.jobId === job.id);
    expect(await subscribe(socket, job.id)).toMatchObject({ ok: true, status: { state: 'queued' } });
    expect((await inference).progress.percent).toBeGreaterThan(0);
    const early = await fetch(`${stack.api.url}/v1/jobs/${job.id}/result`);
    expect(early.status).toBe(409);
    expect(((await early.json()) as { error: { code: string } }).error.code).toBe('result_not_ready');
    await completed;
    // A stage is reported once it has lasted PROGRESS_AFTER_MS (the 0.5 s inference always does): in order, each once.
    const boundaries = ['fetch:0', 'decode:14', 'preprocess:29', 'inference:43', 'postprocess:57', 'encode:71', 'store:86'];
    expect(stages).toContain('inference:43');
    expect(stages).toEqual(boundaries.filter((stage) => stages.includes(stage)));
    expect((await fetch(`${stack.api.url}/v1/jobs/${job.id}/result`)).status).toBe(200);
  });

  it('cancels a queued job; a running one answers 409', async () => {
    const socket = await stack.connect();
    const running = await submitSlow();
    const queued = await submitSlow();
    await stack.jobStarted(running.id);
    const cancelled = nextEvent(socket, 'job.cancelled', (e) => e.jobId === queued.id);
    await subscribe(socket, queued.id);

    const cancel = await fetch(`${stack.api.url}/v1/jobs/${queued.id}`, { method: 'DELETE' });
    expect(cancel.status).toBe(200);
    expect(((await cancel.json()) as { state: string }).state).toBe('cancelled');
    await cancelled;
    expect(((await (await fetch(`${stack.api.url}/v1/jobs/${queued.id}`)).json()) as { state: string }).state).toBe('cancelled');

    const refused = await fetch(`${stack.api.url}/v1/jobs/${running.id}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('job_not_cancellable');
    expect((await stack.jobEnd(running.id)).state).toBe('completed');
  });

  it('a job cancelled through another API instance reads as cancelled on the one that accepted it', async () => {
    const other = await stack.startApi({ API_INFER_TIMEOUT_MS: '100', API_MAX_QUEUE_DEPTH: '3', API_RETRY_AFTER_SECONDS: '7' });
    const running = await submitSlow();
    const queued = await submitSlow();
    await stack.jobStarted(running.id);
    expect(((await (await fetch(`${stack.api.url}/v1/jobs/${queued.id}`)).json()) as { state: string }).state).toBe('queued');

    expect((await fetch(`${other.url}/v1/jobs/${queued.id}`, { method: 'DELETE' })).status).toBe(200);
    // The instance that accepted the job read its record before the cancellation: it must not trust it.
    expect(((await (await fetch(`${stack.api.url}/v1/jobs/${queued.id}`)).json()) as { state: string }).state).toBe('cancelled');
    const result = await fetch(`${stack.api.url}/v1/jobs/${queued.id}/result?artifact=depth`);
    expect(result.status).toBe(404);
    const socket = await stack.connect();
    expect(await subscribe(socket, queued.id)).toMatchObject({ ok: true, status: { state: 'cancelled' } });
    expect((await stack.jobEnd(running.id)).state).toBe('completed');
  });

  it('POST /v1/infer answers 202 with the job’s links when the job outlasts the timeout, and the job still completes', async () => {
    const response = await submit(stack.api, { image, model: 'slow-depth' }, {}, '/v1/infer');
    expect(response.status).toBe(202);
    const body = (await response.json()) as JobAccepted;
    expect(body.links.self).toBe(`/v1/jobs/${body.id}`);
    expect(['queued', 'active']).toContain(body.state);
    expect((await stack.jobEnd(body.id)).state).toBe('completed');
  });

  it('answers 503 with Retry-After when the queue is deeper than its limit, and loses no accepted job', async () => {
    const redis = new Redis(stack.redis.url);
    const records = async () => new Set(await redis.keys('fathom:job:*'));
    const before = await records();
    // One after the other: the worker runs one 0.5 s job at a time, so the waiting count only grows.
    const answers: Response[] = [];
    for (let i = 0; i < 7; i++) answers.push(await submit(stack.api, { image, model: 'slow-depth' }));
    const accepted = answers.filter((r) => r.status === 202);
    const refused = answers.filter((r) => r.status === 503);
    expect(accepted.length + refused.length).toBe(7);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.headers.get('retry-after')).toBe('7');
    expect(((await refused[0]!.json()) as { error: { code: string } }).error.code).toBe('queue_full');
    const ids = await Promise.all(accepted.map(async (r) => ((await r.json()) as JobAccepted).id));
    // A refused upload leaves no job record behind (nor its input, written and removed with it).
    const added = [...(await records())].filter((key) => !before.has(key));
    redis.disconnect();
    expect(added.sort()).toEqual(ids.map((id) => `fathom:job:${id}`).sort());
    for (const id of ids) expect((await stack.jobEnd(id, { timeoutMs: 60_000 })).state).toBe('completed');
  });

  it('on SIGTERM a worker stops taking jobs, finishes the one in flight and exits 0', async () => {
    const second = await stack.startWorker({
      MODELS_DIR: modelsDir,
      WORKER_BUILTIN_MODELS: 'false',
      WORKER_CONCURRENCY: '1',
      WORKER_ID: 'leaving',
    });
    // Two workers with one slot each, two jobs running: one of them is on the worker we stop.
    const first = await submitSlow();
    const other = await submitSlow();
    await Promise.all([stack.jobStarted(first.id), stack.jobStarted(other.id)]);
    second.kill('SIGTERM');
    const exit = await second.waitForExit(30_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(second.output()).toContain('"msg":"worker stopped"');
    for (const id of [first.id, other.id]) expect((await stack.jobEnd(id)).state).toBe('completed');
  });
});
