import { randomUUID } from 'node:crypto';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { DEFAULT_KEY_PREFIX, INFERENCE_JOB_NAME, inferenceQueueName, type InferenceJobData, type JobAccepted } from '@fathom/contracts';
import { createInferenceQueue, inferenceJobOptions } from '@fathom/queue';
import { newTraceId } from '@fathom/telemetry';
import { depthModelsDir, FathomStack, nextEvent, submit, subscribe, type JobsSocket } from './support/fathom-stack';
import { documentedMetrics, expectServedAsDocumented, parseExposition, type Exposition } from './support/prometheus-exposition';

const MODEL = { model: 'depth-test', version: '1.0.0' };
const STAGES = ['decode', 'preprocess', 'inference', 'postprocess', 'encode'];
const GOOD_JOBS = 3;

describe("a worker's /metrics: what an operator sees after a few jobs and one bad image", () => {
  let stack: FathomStack;
  let metricsUrl: string;
  let scrape: Exposition;

  const value = (name: string, labels: Record<string, string>) =>
    scrape.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).map((s) => s.value);

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    const worker = await stack.startWorker({ MODELS_DIR: depthModelsDir(), WORKER_BUILTIN_MODELS: 'false' });
    metricsUrl = await FathomStack.metricsUrl(worker);

    const socket: JobsSocket = await stack.connect();
    for (let i = 0; i < GOOD_JOBS; i++) {
      const image = await sharp({ create: { width: 120 + 10 * i, height: 90, channels: 3, background: '#4080c0' } })
        .png()
        .toBuffer();
      const job = (await (await submit(stack.api, { image, model: 'depth-test' })).json()) as JobAccepted;
      const completed = nextEvent(socket, 'job.completed', (e) => e.jobId === job.id);
      await subscribe(socket, job.id);
      await completed;
    }
    // Bytes that are no image, queued as the API queues a job (the API itself refuses such an upload).
    const redis = new Redis(stack.redis.url);
    const queueName = inferenceQueueName(MODEL.model, MODEL.version);
    const queue = createInferenceQueue(queueName, { url: stack.redis.url }, DEFAULT_KEY_PREFIX);
    const events = new QueueEvents(queueName, {
      connection: { url: stack.redis.url, maxRetriesPerRequest: null },
      prefix: DEFAULT_KEY_PREFIX,
    });
    try {
      await events.waitUntilReady();
      const jobId = randomUUID();
      const blobKey = stack.blobs.inputKey(jobId);
      await stack.blobs.put(blobKey, Buffer.from('GIF89a but not really an image'));
      const data: InferenceJobData = {
        jobId,
        task: 'depth',
        model: { name: MODEL.model, version: MODEL.version, task: 'depth', route: 'stable' },
        input: { blobKey, bytes: 30, format: 'gif', width: 10, height: 10 },
        options: { output: 'colormap', colormap: 'turbo' },
        submittedAt: Date.now(),
        traceId: newTraceId(),
      };
      const job = await queue.add(
        INFERENCE_JOB_NAME,
        data,
        inferenceJobOptions(jobId, { attempts: 3, backoffMs: 10, retentionSeconds: 600 }),
      );
      await expect(job.waitUntilFinished(events, 15_000)).rejects.toThrow(/^\[image_undecodable\]/);
    } finally {
      await events.close();
      await queue.close();
      redis.disconnect();
    }

    const response = await fetch(metricsUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    scrape = parseExposition(await response.text());
  });
  afterAll(() => stack.stop());

  it('serves on the port it logged', () => {
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(metricsUrl).not.toMatch(/:9464\//);
  });

  it('counts completed jobs, and the bad image once as a final failure with its code', () => {
    expect(value('fathom_jobs_completed_total', { ...MODEL, variant: '', task: 'depth' })).toEqual([GOOD_JOBS]);
    expect(value('fathom_jobs_failed_total', { ...MODEL, variant: '', task: 'depth', code: 'image_undecodable', final: 'true' })).toEqual([
      1,
    ]);
    // Bad input is never retried: no attempt counted as non-final.
    expect(value('fathom_jobs_failed_total', { final: 'false' })).toEqual([]);
  });

  it('times every stage of every completed job, end to end and in the queue', () => {
    for (const stage of STAGES)
      expect([stage, value('fathom_job_stage_duration_seconds_count', { ...MODEL, stage })]).toEqual([stage, [GOOD_JOBS]]);
    for (const stage of STAGES)
      expect(value('fathom_job_stage_duration_seconds_bucket', { ...MODEL, stage, le: '+Inf' })).toEqual([GOOD_JOBS]);
    expect(value('fathom_job_duration_seconds_count', { ...MODEL, task: 'depth' })).toEqual([GOOD_JOBS]);
    expect(value('fathom_job_duration_seconds_sum', { ...MODEL, task: 'depth' })[0]).toBeGreaterThan(0);
    // Every attempt taken is a queue wait, the bad one's included.
    expect(value('fathom_job_queue_wait_seconds_count', { ...MODEL, task: 'depth' })).toEqual([GOOD_JOBS + 1]);
  });

  it('shows the model as loaded and warmed on the CPU it asked for, with no fallback', () => {
    expect(value('fathom_model_execution_provider', { ...MODEL, variant: '', provider: 'cpu', requested: 'cpu' })).toEqual([1]);
    expect(value('fathom_model_execution_provider', {})).toHaveLength(1);
    expect(value('fathom_model_load_seconds', { ...MODEL, variant: '' })[0]).toBeGreaterThan(0);
    expect(value('fathom_model_warmup_seconds', { ...MODEL, variant: '' })[0]).toBeGreaterThan(0);
    expect(value('fathom_execution_provider_fallbacks_total', {})).toEqual([]);
  });

  it('counts one session.run of batch size 1 per good job (the manifest asks for no batching)', () => {
    expect(value('fathom_inference_batch_size_count', { ...MODEL, variant: '' })).toEqual([GOOD_JOBS]);
    expect(value('fathom_inference_batch_size_sum', { ...MODEL, variant: '' })).toEqual([GOOD_JOBS]);
    expect(value('fathom_inference_batch_duration_seconds_count', { ...MODEL, variant: '' })).toEqual([GOOD_JOBS]);
  });

  it('shows how busy the inference threads were', () => {
    expect(value('fathom_worker_inference_slots', {})).toEqual([1]);
    expect(value('fathom_worker_inference_busy_seconds_total', {})[0]).toBeGreaterThan(0);
    // No stage outlasted its limit: no timeout series, no thread retired.
    expect(value('fathom_job_stage_timeouts_total', {})).toEqual([]);
    expect(value('fathom_worker_inference_threads_hung', {})).toEqual([0]);
  });

  it('has the process metrics', () => {
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect([name, value(name, {}).length]).toEqual([name, 1]);
    }
  });

  it('names, types and labels every fathom_ metric as docs/metrics.md does, and has all of them', () => {
    expect(documentedMetrics('Worker').size).toBe(20);
    expectServedAsDocumented(scrape, 'Worker');
  });
});
