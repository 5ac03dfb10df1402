import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { DEFAULT_KEY_PREFIX, errorBodySchema, inferenceQueueName, type JobAccepted, type JobProgressEvent } from '@fathom/contracts';
import {
  depthModelsDir,
  FathomStack,
  NULL_MODEL_INPUT,
  nextEvent,
  submit,
  subscribe,
  type JobsSocket,
  type WorkerProcess,
} from './support/fathom-stack';
import { parseExposition } from './support/prometheus-exposition';

const MODEL = 'deadline-depth';
const RETENTION_SECONDS = 600;

describe('a client deadline: a job still queued when it passes is dropped before inference with deadline_exceeded', () => {
  let stack: FathomStack;
  let worker: WorkerProcess;
  let image: Buffer;
  let redis: Redis;
  let queue: Queue;
  let socket: JobsSocket;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi({ STORAGE_RETENTION_SECONDS: String(RETENTION_SECONDS) });
    worker = await stack.startWorker({ MODELS_DIR: depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT), WORKER_BUILTIN_MODELS: 'false' });
    image = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 30, g: 120, b: 200 } } })
      .png()
      .toBuffer();
    redis = new Redis(stack.redis.url, { maxRetriesPerRequest: null });
    queue = new Queue(inferenceQueueName(MODEL, '1.0.0'), { connection: redis, prefix: DEFAULT_KEY_PREFIX });
    socket = await stack.connect();
  });
  afterAll(async () => {
    await queue?.close();
    redis?.disconnect();
    await stack?.stop();
  });

  it('drops a job whose deadline passed while its queue was paused: never run, failed deadline_exceeded everywhere a client looks', async () => {
    // An operator's pause (BullMQ Queue.pause) holds the job in the queue past its deadline.
    await queue.pause();
    const sentAt = Date.now();
    const response = await submit(stack.api, { image, model: MODEL, deadline: '1' });
    const answeredAt = Date.now();
    expect(response.status).toBe(202);
    const job = (await response.json()) as JobAccepted;
    const progress: JobProgressEvent[] = [];
    socket.on('job.progress', (e) => e.jobId === job.id && progress.push(e));
    const failed = nextEvent(socket, 'job.failed', (e) => e.jobId === job.id);
    const subscribed = await subscribe(socket, job.id);
    if (!subscribed.ok) throw new Error(`subscribe failed: ${subscribed.error.code}`);
    expect(subscribed.status.state).toBe('queued');
    // 1 s from when the API read it: between 1 s after the request was sent and 1 s after it was answered.
    const deadline = Date.parse(subscribed.status.deadline!);
    expect(deadline).toBeGreaterThanOrEqual(sentAt + 1000);
    expect(deadline).toBeLessThanOrEqual(answeredAt + 1000);

    // No event marks a deadline passing: wait until it has, then let a worker take the job.
    await new Promise((resolve) => setTimeout(resolve, deadline - Date.now() + 50));
    await queue.resume();

    expect((await failed).error).toEqual({ code: 'deadline_exceeded', message: expect.stringContaining('it was not run') });
    const status = await stack.jobEnd(job.id);
    expect(status).toMatchObject({ state: 'failed', attempts: 1, error: { code: 'deadline_exceeded' }, timings: null, progress: null });
    expect(status.deadline).toBe(new Date(deadline).toISOString());
    expect(progress).toEqual([]); // not even its image was read, let alone inference run
    // A final failure: never retried, its input released.
    expect((await queue.getJob(job.id))?.attemptsMade).toBe(1);
    expect(await stack.blobs.get(stack.blobs.inputKey(job.id))).toBeNull();
    const result = await fetch(`${stack.api.url}/v1/jobs/${job.id}/result`);
    expect(result.status).toBe(409);
    // Counted in the worker's failure metric under its code.
    const scrape = parseExposition(await (await fetch(await FathomStack.metricsUrl(worker))).text());
    const counted = scrape.samples.find(
      (s) => s.name === 'fathom_jobs_failed_total' && s.labels.code === 'deadline_exceeded' && s.labels.final === 'true',
    );
    expect(counted?.value).toBe(1);
  });

  it('completes a job whose deadline leaves it time, from the form or the X-Deadline header, and shows the deadline', async () => {
    const sentAt = Date.now();
    const viaField = (await (await submit(stack.api, { image, model: MODEL, deadline: '60' })).json()) as JobAccepted;
    const answeredAt = Date.now();
    const at = new Date(Date.now() + 120_000).toISOString();
    const viaHeader = await submit(stack.api, { image, model: MODEL }, { 'X-Deadline': at }, '/v1/infer');
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.headers.get('content-type')).toBe('image/png');
    const status = await stack.jobEnd(viaField.id);
    expect(status).toMatchObject({ state: 'completed', error: null });
    expect(Date.parse(status.deadline!)).toBeGreaterThanOrEqual(sentAt + 60_000);
    expect(Date.parse(status.deadline!)).toBeLessThanOrEqual(answeredAt + 60_000);
  });

  it('cuts a deadline later than the retention time to it', async () => {
    const sentAt = Date.now();
    const response = await submit(stack.api, { image, model: MODEL, deadline: String(10 * RETENTION_SECONDS) });
    const answeredAt = Date.now();
    const status = await stack.jobEnd(((await response.json()) as JobAccepted).id);
    expect(status.state).toBe('completed');
    expect(Date.parse(status.deadline!)).toBeGreaterThanOrEqual(sentAt + RETENTION_SECONDS * 1000);
    expect(Date.parse(status.deadline!)).toBeLessThanOrEqual(answeredAt + RETENTION_SECONDS * 1000);
  });

  it.each([
    ['unreadable', { deadline: 'tomorrow' }, {}, 'not readable'],
    ['negative', { deadline: '-5' }, {}, 'not readable'],
    ['a local time without a zone', { deadline: '2030-01-31T12:00:00' }, {}, 'not readable'],
    ['now', { deadline: '0' }, {}, 'already passed'],
    ['in the past', {}, { 'X-Deadline': '2020-01-01T00:00:00Z' }, 'already passed'],
    ['sent twice', { deadline: '30' }, { 'X-Deadline': '30' }, 'once'],
  ])('refuses a deadline %s with 400 invalid_request naming the accepted format', async (_, form, headers, reason) => {
    for (const path of ['/v1/jobs', '/v1/infer']) {
      const response = await submit(stack.api, { image, model: MODEL, ...form }, headers, path);
      expect(response.status).toBe(400);
      const { error } = errorBodySchema.parse(await response.json());
      expect(error.code).toBe('invalid_request');
      expect(error.message).toContain(reason);
      if (reason !== 'once') expect(error.message).toContain('seconds from now');
    }
  });
});
