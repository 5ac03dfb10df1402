import sharp from 'sharp';
import type { JobAccepted } from '@fathom/contracts';
import { depthModelsDir, FathomStack, nextEvent, submit, subscribe } from './support/fathom-stack';

describe('two API instances and two workers', () => {
  let stack: FathomStack;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    await stack.startApi();
    const modelsDir = depthModelsDir();
    await stack.startWorker({ MODELS_DIR: modelsDir, WORKER_BUILTIN_MODELS: 'false', WORKER_ID: 'worker-a' });
    await stack.startWorker({ MODELS_DIR: modelsDir, WORKER_BUILTIN_MODELS: 'false', WORKER_ID: 'worker-b' });
  });
  afterAll(() => stack.stop());

  it('counts both workers for the model', async () => {
    const { models } = (await (await fetch(`${stack.apis[1]!.url}/v1/models`)).json()) as { models: Array<{ versions: Array<{ workers: number }> }> };
    expect(models[0]?.versions[0]?.workers).toBe(2);
  });

  it('delivers to a client connected to instance A the result of jobs submitted through instance B', async () => {
    const [a, b] = [stack.apis[0]!, stack.apis[1]!];
    const socket = await stack.connect(a);
    const image = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } }).png().toBuffer();
    const jobs = await Promise.all(Array.from({ length: 6 }, async () => (await (await submit(b, { image, model: 'depth-test' })).json()) as JobAccepted));
    const completions = jobs.map((job) => nextEvent(socket, 'job.completed', (e) => e.jobId === job.id));
    for (const job of jobs) expect((await subscribe(socket, job.id)).ok).toBe(true);
    const events = await Promise.all(completions);
    expect(events.map((e) => e.jobId).sort()).toEqual(jobs.map((j) => j.id).sort());
    for (const event of events) expect(event.result.artifacts).toEqual([expect.objectContaining({ width: 64, height: 48, contentType: 'image/png' })]);
    // Either instance serves the artifact: storage is Redis, not a local disk.
    expect((await fetch(`${a.url}${events[0]!.links.result}`)).status).toBe(200);
  });
});
