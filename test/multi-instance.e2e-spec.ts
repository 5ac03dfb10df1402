import sharp from 'sharp';
import type { JobAccepted } from '@fathom/contracts';
import { depthModelsDir, FathomStack, nextEvent, pollStatus, submit, subscribe } from './support/fathom-stack';

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
    const { models } = (await (await fetch(`${stack.apis[1]!.url}/v1/models`)).json()) as {
      models: Array<{ versions: Array<{ workers: number }> }>;
    };
    expect(models[0]?.versions[0]?.workers).toBe(2);
  });

  it('delivers to a client connected to instance A the result of jobs submitted through instance B', async () => {
    const [a, b] = [stack.apis[0]!, stack.apis[1]!];
    const socket = await stack.connect(a);
    const image = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    const jobs = await Promise.all(
      Array.from({ length: 6 }, async () => (await (await submit(b, { image, model: 'depth-test' })).json()) as JobAccepted),
    );
    const completions = jobs.map((job) => nextEvent(socket, 'job.completed', (e) => e.jobId === job.id));
    for (const job of jobs) expect((await subscribe(socket, job.id)).ok).toBe(true);
    const events = await Promise.all(completions);
    expect(events.map((e) => e.jobId).sort()).toEqual(jobs.map((j) => j.id).sort());
    for (const event of events)
      expect(event.result.artifacts).toEqual([expect.objectContaining({ width: 64, height: 48, contentType: 'image/png' })]);
    // Either instance serves the artifact: storage is Redis, not a local disk.
    expect((await fetch(`${a.url}${events[0]!.links.result}`)).status).toBe(200);
  });

  it('counts a job end no client heard once for the whole cluster, not once per API instance', async () => {
    const [a, b] = [stack.apis[0]!, stack.apis[1]!];
    const unheard = async () => {
      const read = async (metricsUrl: string) =>
        Number(/^fathom_ws_events_unheard_total\{event="job.completed"\} (\d+)/m.exec(await (await fetch(metricsUrl)).text())?.[1] ?? NaN);
      return (await read(a.metricsUrl)) + (await read(b.metricsUrl));
    };
    const image = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    const before = await unheard();
    const nobodyListens = (await (await submit(b, { image, model: 'depth-test' })).json()) as JobAccepted;
    // A later job watched on both instances: once each delivers its end, both relays have read the
    // first job's end too (one event stream, in order).
    const [onA, onB] = [await stack.connect(a), await stack.connect(b)];
    const later = (await (await submit(b, { image, model: 'depth-test' })).json()) as JobAccepted;
    const delivered = [onA, onB].map((socket) => nextEvent(socket, 'job.completed', (e) => e.jobId === later.id));
    for (const socket of [onA, onB]) await subscribe(socket, later.id);
    await Promise.all(delivered);
    expect((await pollStatus(a, nobodyListens.id, ['completed'])).state).toBe('completed');
    // The count is one Redis round trip behind the event: read until it moves, then it must be 1.
    const deadline = Date.now() + 5_000;
    let counted = (await unheard()) - before;
    while (counted < 1 && Date.now() < deadline) counted = (await unheard()) - before;
    expect(counted).toBe(1);
  });
});
