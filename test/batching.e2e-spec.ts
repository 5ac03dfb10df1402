import sharp from 'sharp';
import type { JobAccepted, JobStatus } from '@fathom/contracts';
import { depthModelsDir, FathomStack, nextEvent, submit, subscribe } from './support/fathom-stack';

const JOBS = 8;

/** `name{labels} value` lines of one metric, summed over its series. */
function metricSum(exposition: string, name: string): number {
  return exposition
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

describe('a model served with micro-batching, through the real API, queue and worker', () => {
  let stack: FathomStack;
  let metricsUrl: string;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    // A wait long enough that jobs submitted together meet, even on a busy CI machine.
    const models = depthModelsDir(undefined, 'depth-batched', { batching: { maxBatch: 4, maxDelayMs: 400 } });
    const worker = await stack.startWorker({ MODELS_DIR: models, WORKER_BUILTIN_MODELS: 'false' });
    metricsUrl = await FathomStack.metricsUrl(worker);
    expect(JSON.parse(await worker.waitForLine(/"msg":"model loaded"/, 1_000))).toMatchObject({
      model: 'depth-batched@1.0.0',
      maxBatch: 4,
    });
  }, 60_000);
  afterAll(() => stack.stop());

  it('completes every job a user submitted at once, several of them sharing a session.run', async () => {
    const socket = await stack.connect();
    const images = await Promise.all(
      Array.from({ length: JOBS }, (_, i) =>
        sharp({ create: { width: 96, height: 72, channels: 3, background: { r: 30 * i, g: 100, b: 200 - 20 * i } } })
          .png()
          .toBuffer(),
      ),
    );
    const accepted = await Promise.all(
      images.map(async (image) => (await (await submit(stack.api, { image, model: 'depth-batched' })).json()) as JobAccepted),
    );
    const completed = await Promise.all(
      accepted.map(async (job) => {
        // A job that ended before the subscription still gets its terminal event on subscribing.
        const done = nextEvent(socket, 'job.completed', (e) => e.jobId === job.id);
        await subscribe(socket, job.id);
        return done;
      }),
    );
    expect(completed).toHaveLength(JOBS);

    for (const job of accepted) {
      const status = (await (await fetch(`${stack.api.url}/v1/jobs/${job.id}`)).json()) as JobStatus;
      expect(status.state).toBe('completed');
      const result = await fetch(`${stack.api.url}/v1/jobs/${job.id}/result`);
      expect(result.status).toBe(200);
      expect(await sharp(Buffer.from(await result.arrayBuffer())).metadata()).toMatchObject({ format: 'png', width: 96, height: 72 });
    }

    const exposition = await (await fetch(metricsUrl)).text();
    const jobsInBatches = metricSum(exposition, 'fathom_inference_batch_size_sum');
    const runs = metricSum(exposition, 'fathom_inference_batch_size_count');
    expect(jobsInBatches).toBe(JOBS);
    // Eight jobs in fewer runs than jobs: batches were formed (at most 4 each, so at least 2 runs).
    expect(runs).toBeLessThan(JOBS);
    expect(runs).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
