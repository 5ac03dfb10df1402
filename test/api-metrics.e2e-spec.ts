import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { inferenceQueueName, type JobAccepted, type JobStatus } from '@fathom/contracts';
import {
  depthModelsDir,
  FathomStack,
  nextEvent,
  pollStatus,
  submit,
  subscribe,
  type ApiInstance,
  type JobsSocket,
} from './support/fathom-stack';
import { expectServedAsDocumented, parseExposition, type Exposition, type Sample } from './support/prometheus-exposition';

class Scrape {
  readonly exposition: Exposition;
  readonly samples: Sample[];
  constructor(readonly text: string) {
    this.exposition = parseExposition(text);
    this.samples = this.exposition.samples;
  }

  /** Samples of `name` whose labels include `labels`. */
  find(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }

  /** The one sample of `name` with exactly these label values (for the labels given); fails if absent or ambiguous. */
  value(name: string, labels: Record<string, string> = {}): number {
    const found = this.find(name, labels);
    if (found.length !== 1)
      throw new Error(
        `${found.length} samples of ${name}${JSON.stringify(labels)}:\n${this.find(name)
          .map((s) => JSON.stringify(s))
          .join('\n')}`,
      );
    return found[0]!.value;
  }
}

async function scrape(api: ApiInstance): Promise<Scrape> {
  const response = await fetch(api.metricsUrl);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return new Scrape(await response.text());
}

const MODEL = 'depth-test';
const QUEUE = inferenceQueueName(MODEL, '1.0.0');
const WIDTH = 300;
const HEIGHT = 200;

/**
 * What an operator sees on the API's /metrics after a short session: jobs submitted through the
 * stable route and pinned, one watched over socket.io, one refused as not an image, one for a
 * version no worker serves, one cancelled while queued, polls on GET /v1/jobs/:id.
 */
describe('API metrics: what /metrics shows after real submissions', () => {
  let stack: FathomStack;
  let image: Buffer;
  let redis: Redis;
  let queue: Queue;
  let socket: JobsSocket;
  const jobIds: string[] = [];
  let whileQueued: Scrape;
  let queuedForAtMostSeconds: number;
  let after: Scrape;
  let accepted: { response: Response; body: JobAccepted };

  const submitJob = async (model = MODEL) => {
    const response = await submit(stack.api, { image, model, options: { output: 'grayscale' } });
    expect(response.status).toBe(202);
    const body = (await response.json()) as JobAccepted;
    jobIds.push(body.id);
    return { response, body };
  };

  /** Watches a job over socket.io from before a worker can take it: the queue is paused meanwhile. */
  const watchedJob = async () => {
    await queue.pause();
    const job = await submitJob();
    const completed = nextEvent(socket, 'job.completed', (e) => e.jobId === job.body.id);
    expect(await subscribe(socket, job.body.id)).toMatchObject({ ok: true, status: { state: 'queued' } });
    return { job, completed };
  };

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    await stack.startWorker({ MODELS_DIR: depthModelsDir(), WORKER_BUILTIN_MODELS: 'false' });
    image = await sharp({ create: { width: WIDTH, height: HEIGHT, channels: 3, background: { r: 30, g: 120, b: 200 } } })
      .png()
      .toBuffer();
    redis = new Redis(stack.redis.url, { maxRetriesPerRequest: null });
    // An operator's pause (BullMQ Queue.pause): jobs then wait, so a cancel and the queue gauges are deterministic.
    queue = new Queue(QUEUE, { connection: redis, prefix: 'fathom' });
    socket = await stack.connect();

    // 1. A watched job, and a second one cancelled while both wait in the paused queue.
    const beforeFirst = Date.now();
    const first = await watchedJob();
    accepted = first.job;
    const cancelled = await submitJob();
    expect((await fetch(`${stack.api.url}/v1/jobs/${cancelled.body.id}`, { method: 'DELETE' })).status).toBe(200);
    whileQueued = await scrape(stack.api);
    queuedForAtMostSeconds = (Date.now() - beforeFirst) / 1000;
    await queue.resume();
    await first.completed;

    // 2. A pinned version, polled to the end (nobody listens on a socket).
    const pinned = await submitJob(`${MODEL}@1.0.0`);
    await pollStatus(stack.api, pinned.body.id, ['completed']);

    // 3. Refused: not an image, and a version no worker serves.
    expect((await submit(stack.api, { image: randomBytes(4096), model: MODEL })).status).toBe(415);
    expect((await submit(stack.api, { image, model: `${MODEL}@9.9.9` })).status).toBe(422);

    // 4. Another watched job: its events come after the pinned job's on the queue's event stream, so
    //    once it is delivered the relay has seen (and counted as unheard) everything of the pinned one.
    const last = await watchedJob();
    await queue.resume();
    await last.completed;

    after = await scrape(stack.api);
  });

  afterAll(async () => {
    await queue?.close();
    redis?.disconnect();
    await stack.stop();
  });

  it('counts accepted jobs by model, version, task and route (stable or pinned), and the cancelled one', () => {
    const job = { model: MODEL, version: '1.0.0', variant: '', task: 'depth' };
    expect(after.value('fathom_jobs_submitted_total', { ...job, route: 'stable' })).toBe(3);
    expect(after.value('fathom_jobs_submitted_total', { ...job, route: 'pinned' })).toBe(1);
    expect(after.value('fathom_jobs_cancelled_total', { model: MODEL, version: '1.0.0', task: 'depth' })).toBe(1);
  });

  it('counts uploads by the format read from their bytes, and refusals by reason', () => {
    expect(after.value('fathom_uploads_total', { format: 'png' })).toBe(4);
    expect(after.value('fathom_uploads_total', { format: 'jpeg' })).toBe(0);
    expect(after.value('fathom_uploads_rejected_total', { reason: 'unsupported_image_format' })).toBe(1);
    expect(after.value('fathom_uploads_rejected_total', { reason: 'model_not_served' })).toBe(1);
    // Only refusals of uploads: the DELETE and the polls are no upload.
    expect(after.find('fathom_uploads_rejected_total').reduce((sum, s) => sum + s.value, 0)).toBe(2);
  });

  it('puts every accepted upload’s size on the model’s input histograms', () => {
    const model = { model: MODEL };
    expect(after.value('fathom_input_bytes_count', model)).toBe(4);
    expect(after.value('fathom_input_bytes_sum', model)).toBe(4 * image.length);
    expect(after.value('fathom_input_megapixels_count', model)).toBe(4);
    expect(after.value('fathom_input_megapixels_sum', model)).toBeCloseTo((4 * WIDTH * HEIGHT) / 1e6, 9);
    expect(after.value('fathom_input_width_pixels_sum', model)).toBe(4 * WIDTH);
    expect(after.value('fathom_input_height_pixels_sum', model)).toBe(4 * HEIGHT);
    // 300 px wide: above the 256 bucket, within 512.
    expect(after.value('fathom_input_width_pixels_bucket', { ...model, le: '256' })).toBe(0);
    expect(after.value('fathom_input_width_pixels_bucket', { ...model, le: '512' })).toBe(4);
    expect(after.value('fathom_input_bytes_bucket', { ...model, le: '+Inf' })).toBe(4);
  });

  it('times HTTP requests by route pattern, method and status class, never by a raw URL', () => {
    const duration = 'fathom_http_request_duration_seconds_count';
    expect(after.value(duration, { route: '/v1/jobs', method: 'POST', status_class: '2xx' })).toBe(4);
    expect(after.value(duration, { route: '/v1/jobs', method: 'POST', status_class: '4xx' })).toBe(2);
    expect(after.value(duration, { route: '/v1/jobs/:id', method: 'GET', status_class: '2xx' })).toBeGreaterThanOrEqual(1);
    expect(after.value(duration, { route: '/v1/jobs/:id', method: 'DELETE', status_class: '2xx' })).toBe(1);
    expect(after.find(duration, { route: '/metrics' })).toEqual([]);
    // The scrape is served on the metrics port, not by the API: no API request is in flight.
    expect(after.value('fathom_http_requests_in_flight')).toBe(0);
    for (const id of jobIds) expect(after.text).not.toContain(id);
  });

  it('shows the model’s queue, its oldest waiting job and its live worker', () => {
    const labels = { queue: QUEUE, model: MODEL, version: '1.0.0' };
    // While paused: the watched job waits (the cancelled one is gone).
    expect(whileQueued.value('fathom_queue_jobs', { ...labels, state: 'waiting' })).toBe(1);
    expect(whileQueued.value('fathom_queue_oldest_waiting_age_seconds', labels)).toBeGreaterThan(0);
    // No older than the time this test has been waiting for it (measured here, on the same clock).
    expect(whileQueued.value('fathom_queue_oldest_waiting_age_seconds', labels)).toBeLessThanOrEqual(queuedForAtMostSeconds);
    // After: everything ran.
    for (const state of ['waiting', 'active', 'delayed', 'failed']) expect(after.value('fathom_queue_jobs', { ...labels, state })).toBe(0);
    expect(after.value('fathom_queue_oldest_waiting_age_seconds', labels)).toBe(0);
    expect(after.value('fathom_workers_online', { model: MODEL, version: '1.0.0' })).toBe(1);
  });

  it('counts socket.io clients and the job events pushed to them or heard by nobody', () => {
    expect(after.value('fathom_ws_clients_connected')).toBe(1);
    expect(after.value('fathom_ws_events_pushed_total', { event: 'job.state' })).toBe(2);
    expect(after.value('fathom_ws_events_pushed_total', { event: 'job.completed' })).toBe(2);
    // The pinned job finished with no socket listening.
    expect(after.value('fathom_ws_events_unheard_total', { event: 'job.completed' })).toBe(1);
  });

  it('names, types and labels every fathom_ metric as docs/metrics.md does, and has all of them', () => {
    expectServedAsDocumented(after.exposition, 'API');
  });

  it('serves process metrics', () => {
    expect(after.find('process_cpu_user_seconds_total')).toHaveLength(1);
    expect(after.find('nodejs_eventloop_lag_seconds')).toHaveLength(1);
  });

  it('answers with the job’s trace id, the same its status carries, with tracing off', async () => {
    const traceId = accepted.response.headers.get('x-trace-id');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const status = await fetch(`${stack.api.url}/v1/jobs/${accepted.body.id}`);
    expect(status.headers.get('x-trace-id')).toBe(traceId);
    expect(((await status.json()) as JobStatus).traceId).toBe(traceId);
  });
});
