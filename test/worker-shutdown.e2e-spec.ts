import { Queue } from 'bullmq';
import sharp from 'sharp';
import { DEFAULT_KEY_PREFIX, inferenceQueueName, type JobAccepted } from '@fathom/contracts';
import { recoveryBoundMs, type StallPolicy } from '@fathom/queue';
import { simulatedInferenceEnv } from '../bench/hooks/simulated-inference';
import { depthModelsDir, FathomStack, nextEvent, stallPolicyEnv, submit, subscribe } from './support/fathom-stack';

const MODEL = 'slow-depth';
const POLICY: StallPolicy = { lockDurationMs: 2000, stalledIntervalMs: 1000, maxStalledCount: 1 };
/** The shutdown grace under test. */
const GRACE_MS = 1500;
/** A worker exits within the grace plus as much again for closing its connections and flushing, on a loaded machine. */
const EXIT_WITHIN_MS = 2 * GRACE_MS;
/** A job left behind runs again within lock + interval (recoveryBoundMs), plus one interval for a loaded machine's timers. */
const RERUN_WITHIN_MS = recoveryBoundMs(POLICY) + POLICY.stalledIntervalMs;
/** Each session.run holds its thread this long (the bench's fixed-latency hook): far longer than the grace. */
const INFERENCE_MS = 4 * GRACE_MS;

describe('worker shutdown: SIGTERM waits WORKER_SHUTDOWN_GRACE_MS for jobs in flight, then exits; the job runs again elsewhere', () => {
  let stack: FathomStack;
  let queue: Queue;
  let image: Buffer;
  let modelsDir: string;

  const startWorker = (id: string) =>
    stack.startWorker({
      MODELS_DIR: modelsDir,
      WORKER_BUILTIN_MODELS: 'false',
      WORKER_CONCURRENCY: '1',
      WORKER_ID: id,
      ...stallPolicyEnv(POLICY),
      WORKER_SHUTDOWN_GRACE_MS: String(GRACE_MS),
      ...simulatedInferenceEnv(INFERENCE_MS),
    });

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    modelsDir = depthModelsDir(undefined, MODEL);
    queue = new Queue(inferenceQueueName(MODEL, '1.0.0'), { connection: { url: stack.redis.url }, prefix: DEFAULT_KEY_PREFIX });
    image = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 90, g: 120, b: 150 } } })
      .png()
      .toBuffer();
  });
  afterAll(async () => {
    await queue?.close();
    await stack?.stop();
  });

  it('exits within the grace with a slow job in flight; the job completes on a second worker, counted as one stall', async () => {
    // Two idle workers (each takes one job at a time): whichever takes the job is stopped, the other runs it again.
    const ids = ['worker-a', 'worker-b'];
    const workers = new Map((await Promise.all(ids.map(startWorker))).map((worker, i) => [ids[i]!, worker]));
    const socket = await stack.connect();
    const job = (await (await submit(stack.api, { image, model: MODEL })).json()) as JobAccepted;
    const running = nextEvent(socket, 'job.progress', (e) => e.jobId === job.id && e.progress.stage === 'inference');
    await subscribe(socket, job.id);
    await running;
    const holder = (await queue.getJob(job.id))?.processedBy ?? '';
    const first = workers.get(holder);
    if (!first) throw new Error(`job ${job.id} is held by no worker of this test (${holder})`);

    const signalledAt = Date.now();
    first.kill('SIGTERM');
    expect(await first.waitForExit(EXIT_WITHIN_MS + 10_000)).toEqual({ code: 0, signal: null });
    const exitedAfterMs = Date.now() - signalledAt;
    console.log(`exited ${exitedAfterMs} ms after SIGTERM (grace ${GRACE_MS} ms, inference ${INFERENCE_MS} ms)`);
    expect(exitedAfterMs).toBeGreaterThanOrEqual(GRACE_MS); // it waited for the job...
    expect(exitedAfterMs).toBeLessThanOrEqual(EXIT_WITHIN_MS); // ...but not for its end
    await first.waitForLine(/shutdown grace elapsed/, 1_000);

    const status = await stack.jobEnd(job.id, { timeoutMs: RERUN_WITHIN_MS + 3 * INFERENCE_MS + 30_000 });
    expect(status).toMatchObject({ state: 'completed', attempts: 2, stalls: 1, error: null });
    expect((await queue.getJob(job.id))?.processedBy).not.toBe(holder);
    expect(Date.parse(status.timestamps.startedAt!) - signalledAt).toBeLessThanOrEqual(exitedAfterMs + RERUN_WITHIN_MS);
    expect((await fetch(`${stack.api.url}/v1/jobs/${job.id}/result`)).status).toBe(200);
  });
});
