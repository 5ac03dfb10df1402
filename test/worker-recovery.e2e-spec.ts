import { Queue } from 'bullmq';
import sharp from 'sharp';
import { DEFAULT_KEY_PREFIX, inferenceQueueName, type JobAccepted } from '@fathom/contracts';
import { recoveryBoundMs, type StallPolicy } from '@fathom/queue';
import { simulatedInferenceEnv } from '../bench/hooks/simulated-inference';
import {
  depthModelsDir,
  FathomStack,
  nextEvent,
  stallPolicyEnv,
  submit,
  subscribe,
  type JobsSocket,
  type WorkerProcess,
} from './support/fathom-stack';
import { parseExposition } from './support/prometheus-exposition';

const SIDE = 518;
const MODEL = 'slow-depth';
/** Short locks and checks, so a test waits seconds; the bounds below are derived from them. */
const POLICY: StallPolicy = { lockDurationMs: 2000, stalledIntervalMs: 1000, maxStalledCount: 1 };
/**
 * The longest a killed worker's job may wait before it runs again: lock + interval (recoveryBoundMs),
 * plus one interval for the timers of a loaded machine (the check's own, the survivor's pick-up).
 */
const RERUN_WITHIN_MS = recoveryBoundMs(POLICY) + POLICY.stalledIntervalMs;
/**
 * Each session.run holds its inference thread this long, without the CPU (the benchmarks'
 * preloaded fixed-latency hook): the survivor's run outlasts a lock and a check, so a lock not
 * renewed would be taken for a stall, whatever the machine's load (a model sized to the machine
 * beforehand ran 2.2 s instead of 4.5 when the load dropped).
 */
const INFERENCE_MS = 1.5 * recoveryBoundMs(POLICY);

describe('a worker killed mid-job: the job runs again on another, counted; one that keeps killing workers fails worker_lost', () => {
  let stack: FathomStack;
  let modelsDir: string;
  let image: Buffer;
  let queue: Queue;
  const workers = new Map<string, WorkerProcess>();
  let workerNumber = 0;

  async function startWorkers(count: number): Promise<void> {
    await Promise.all(
      Array.from({ length: count }, async () => {
        const id = `worker-${++workerNumber}`;
        const worker = await stack.startWorker({
          MODELS_DIR: modelsDir,
          WORKER_BUILTIN_MODELS: 'false',
          WORKER_CONCURRENCY: '1',
          WORKER_ID: id,
          ...stallPolicyEnv(POLICY),
          ...simulatedInferenceEnv(INFERENCE_MS),
        });
        workers.set(id, worker);
      }),
    );
  }

  /** Resolves once the job's run is inside session.run: its `inference` stage has been reported. */
  function inInference(socket: JobsSocket, jobId: string): Promise<unknown> {
    return nextEvent(socket, 'job.progress', (e) => e.jobId === jobId && e.progress.stage === 'inference');
  }

  /** SIGKILLs the worker running the job (BullMQ keeps the name of the worker that took it) and says when. */
  async function killHolder(jobId: string): Promise<{ id: string; killedAt: number }> {
    const id = (await queue.getJob(jobId))?.processedBy;
    const holder = id === undefined ? undefined : workers.get(id);
    if (!id || !holder) throw new Error(`job ${jobId} is held by no worker of this test (${id})`);
    const killedAt = Date.now();
    holder.kill('SIGKILL');
    workers.delete(id);
    expect(await holder.waitForExit(10_000)).toEqual({ code: null, signal: 'SIGKILL' });
    return { id, killedAt };
  }

  /** A counter summed over the live workers' /metrics. */
  async function liveSum(metric: string, labels: Record<string, string>): Promise<number> {
    let sum = 0;
    for (const worker of workers.values()) {
      const scrape = parseExposition(await (await fetch(`${await FathomStack.metricsUrl(worker)}`)).text());
      for (const s of scrape.samples) if (s.name === metric && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
    }
    return sum;
  }

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    modelsDir = depthModelsDir(undefined, MODEL);
    queue = new Queue(inferenceQueueName(MODEL, '1.0.0'), { connection: { url: stack.redis.url }, prefix: DEFAULT_KEY_PREFIX });
    image = await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background: { r: 90, g: 120, b: 150 } } })
      .png()
      .toBuffer();
    await startWorkers(2);
  });
  afterAll(async () => {
    await queue?.close();
    await stack?.stop();
  });

  const submitSlow = async () => (await (await submit(stack.api, { image, model: MODEL })).json()) as JobAccepted;

  it('completes on the worker left alive, runs again within lock + interval, and says it stalled once', async () => {
    const socket = await stack.connect();
    const job = await submitSlow();
    const running = inInference(socket, job.id);
    await subscribe(socket, job.id);
    await running;
    const { killedAt } = await killHolder(job.id);

    const status = await stack.jobEnd(job.id, { timeoutMs: 10 * RERUN_WITHIN_MS + 60_000 });
    const rerunAfterMs = Date.parse(status.timestamps.startedAt!) - killedAt;
    console.log(`re-run began ${rerunAfterMs} ms after the SIGKILL (bound ${RERUN_WITHIN_MS} ms, policy ${JSON.stringify(POLICY)})`);
    expect(status).toMatchObject({ state: 'completed', attempts: 2, stalls: 1, error: null });
    expect(rerunAfterMs).toBeGreaterThan(0);
    expect(rerunAfterMs).toBeLessThanOrEqual(RERUN_WITHIN_MS);
    // The survivor's run outlasted a lock and a check, and was not taken for a stall: its lock was renewed.
    expect(status.timings!.inference).toBeGreaterThan(recoveryBoundMs(POLICY));
    // Counted once, by the live worker whose check found it.
    expect(await liveSum('fathom_jobs_stalled_total', { model: MODEL, version: '1.0.0', variant: '', task: 'depth' })).toBe(1);
    expect((await fetch(`${stack.api.url}/v1/jobs/${job.id}/result`)).status).toBe(200);
  });

  it('fails a job whose worker dies every time it takes it, after WORKER_MAX_STALLED_COUNT re-runs, as worker_lost', async () => {
    // Three live workers: two for the job to kill, one to find it has stalled once too often.
    await startWorkers(3 - workers.size);
    const socket = await stack.connect();
    const job = await submitSlow();
    const firstRun = inInference(socket, job.id);
    await subscribe(socket, job.id);
    await firstRun;
    const secondRun = inInference(socket, job.id);
    const first = await killHolder(job.id);
    await secondRun;
    const second = await killHolder(job.id);
    expect(second.id).not.toBe(first.id);

    const failed = await nextEvent(socket, 'job.failed', (e) => e.jobId === job.id, 10 * RERUN_WITHIN_MS);
    const message = "The job's worker died 2 times while running it; it was not retried again";
    expect(failed.error).toEqual({ code: 'worker_lost', message: expect.stringContaining(message) });
    const status = await stack.jobEnd(job.id);
    expect(status).toMatchObject({ state: 'failed', attempts: 2, stalls: 2, error: failed.error });
    const result = await fetch(`${stack.api.url}/v1/jobs/${job.id}/result`);
    expect(result.status).toBe(409);
    expect(((await result.json()) as { error: { details: { error: { code: string } } } }).error.details.error.code).toBe('worker_lost');
    expect(await liveSum('fathom_jobs_failed_total', { model: MODEL, version: '1.0.0', code: 'worker_lost', final: 'true' })).toBe(1);
  });
});
