import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import { Redis } from 'ioredis';
import pino from 'pino';
import sharp from 'sharp';
import { INFERENCE_JOB_NAME, inferenceQueueName, type InferenceJobData, type InferenceResult, type ServedModel } from '@fathom/contracts';
import { modelManifestSchema, specsFromManifest } from '@fathom/models';
import { FilesystemBlobStore, type BlobStore } from '@fathom/storage';
import { BullmqLayout, DEFAULT_REDIS_TIMEOUTS, InFlightStore, RedisAvailability } from '@fathom/queue';
import { loggerOptions, activeTraceId, newTraceId } from '@fathom/telemetry';
import { buildDepthStandInModel, startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { InferencePool } from '../inference/inference.pool';
import { JobExecutionService } from '../jobs/job-execution.service';
import { WorkerMetrics } from '../metrics/worker.metrics';
import { InferenceProcessor } from './inference.processor';
import { QueueConsumers } from './queue-consumers';
import { DEFAULT_PNG_ENCODING } from '../imaging/png-encoding';

/** Resolves when a span matching a predicate ends: no polling the exporter, no sleeping. */
class EndedSpans implements SpanProcessor {
  private readonly waiters: Array<{ matches: (span: ReadableSpan) => boolean; resolve: (span: ReadableSpan) => void }> = [];
  private readonly ended: ReadableSpan[] = [];

  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    this.ended.push(span);
    for (const waiter of this.waiters.filter((w) => w.matches(span))) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(span);
    }
  }
  forceFlush = async () => undefined;
  shutdown = async () => undefined;

  next(matches: (span: ReadableSpan) => boolean, timeoutMs = 15_000): Promise<ReadableSpan> {
    const done = this.ended.find(matches);
    if (done) return Promise.resolve(done);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching span ended within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ matches, resolve: (span) => (clearTimeout(timer), resolve(span)) });
    });
  }
}

const STAGES = ['fetch', 'decode', 'preprocess', 'inference', 'postprocess', 'encode', 'store'];
const PREFIX = 'fathom-test';

describe('a job as spans: producer → consumer → one child span per stage, in real time', () => {
  const exporter = new InMemorySpanExporter();
  const ended = new EndedSpans();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), ended] });
  const contextManager = new AsyncLocalStorageContextManager();
  const dir = mkdtempSync(join(tmpdir(), 'fathom-tracing-'));
  writeFileSync(join(dir, 'depth.onnx'), buildDepthStandInModel());
  const [spec] = specsFromManifest(
    modelManifestSchema.parse({
      name: 'depth-test',
      version: '1.0.0',
      task: 'depth',
      weights: 'depth.onnx',
      input: { resize: { mode: 'fixed', width: 28, height: 28 } },
    }),
    { manifestFile: join(dir, 'depth.model.json'), cacheDir: dir },
  );
  const logLines: Array<Record<string, unknown> & { raw: string }> = [];
  const logger = pino(
    loggerOptions('fathom-worker', 'info'),
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const raw of chunk.toString().split('\n').filter(Boolean))
          logLines.push({ ...(JSON.parse(raw) as Record<string, unknown>), raw });
        callback();
      },
    }),
  );
  let redisServer: RedisServerHandle;
  let redis: Redis;
  let pool: InferencePool;
  let blobs: BlobStore;
  let metrics: WorkerMetrics;
  const cleanups: Array<() => Promise<unknown>> = [];
  let png: Buffer;

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(contextManager.enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    redisServer = await startRedisServer();
    redis = new Redis(redisServer.url);
    blobs = new FilesystemBlobStore(join(dir, 'blobs'), PREFIX);
    metrics = new WorkerMetrics('cpu');
    pool = new InferencePool(
      {
        models: [spec!],
        intraOpThreads: 1,
        executionProviders: ['cpu'],
        maxPixels: 40e6,
        sharpThreads: 1,
        png: DEFAULT_PNG_ENCODING,
      },
      1,
    );
    await pool.start();
    png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#406080' } })
      .png()
      .toBuffer();
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await pool.close();
    redis.disconnect();
    await redisServer.stop();
    trace.disable();
    context.disable();
    propagation.disable();
    await provider.shutdown();
  });

  /** A queue as the API makes it (BullMQ telemetry on when tracing) and this worker's consumers on it. */
  async function consume(tracing: boolean) {
    const queueName = `${inferenceQueueName(spec!.name, spec!.version)}-${randomUUID()}`;
    const connection = { url: redisServer.url, maxRetriesPerRequest: null };
    const queue = new Queue<InferenceJobData, InferenceResult>(queueName, {
      connection,
      prefix: PREFIX,
      ...(tracing ? { telemetry: new BullMQOtel('fathom') } : {}),
    });
    const events = new QueueEvents(queueName, { connection, prefix: PREFIX });
    await events.waitUntilReady();
    const consumers = new QueueConsumers(
      {
        redis: { url: redisServer.url, ...DEFAULT_REDIS_TIMEOUTS },
        prefix: PREFIX,
        tracing,
        workerId: 'worker-test',
        stalls: { lockDurationMs: 10_000, stalledIntervalMs: 5_000, maxStalledCount: 1 },
      },
      new InferenceProcessor(
        new JobExecutionService(pool, blobs, 'worker-test', logger, metrics),
        metrics,
        logger,
        new InFlightStore(redis, PREFIX, new BullmqLayout(redis, PREFIX), 600),
      ),
      metrics,
      logger,
      new RedisAvailability(redis, logger, 1_000),
    );
    const served: ServedModel = {
      name: spec!.name,
      version: spec!.version,
      task: 'depth',
      queue: queueName,
      executionProvider: 'cpu',
      input: { name: 'pixel_values', description: '' },
    };
    consumers.start([served], () => 1);
    cleanups.push(
      () => consumers.close(),
      () => events.close(),
      () => queue.close(),
    );
    const submit = async (image: Buffer): Promise<Job<InferenceJobData, InferenceResult>> => {
      const jobId = randomUUID();
      const blobKey = blobs.inputKey(jobId);
      await blobs.put(blobKey, image);
      const data: InferenceJobData = {
        jobId,
        task: 'depth',
        model: { name: spec!.name, version: spec!.version, task: 'depth' },
        input: { blobKey, bytes: image.length, format: 'png', width: 64, height: 48 },
        options: { output: 'colormap', colormap: 'turbo' },
        submittedAt: Date.now(),
        // As the API does: the active trace's id when tracing, else a generated one.
        traceId: activeTraceId() ?? newTraceId(),
      };
      return queue.add(INFERENCE_JOB_NAME, data, { jobId, attempts: 1 });
    };
    return { events, submit };
  }

  it('makes the consumer span a child of the producer span, and each stage a child of the consumer span', async () => {
    const { events, submit } = await consume(true);
    const upload = trace.getTracer('test').startSpan('POST /v1/jobs');
    const job = await context.with(trace.setSpan(context.active(), upload), () => submit(png));
    upload.end();
    await job.waitUntilFinished(events, 15_000);
    const consumer = await ended.next((s) => s.kind === SpanKind.CONSUMER && s.attributes['bullmq.job.id'] === job.id);
    const producer = exporter
      .getFinishedSpans()
      .find((s) => s.kind === SpanKind.PRODUCER && s.spanContext().traceId === upload.spanContext().traceId);

    expect(producer?.name).toBe(`add ${job.queueName}.${job.name}`);
    expect(producer?.parentSpanContext?.spanId).toBe(upload.spanContext().spanId);
    // bullmq-otel parents the consumer on the producer (not a link): one trace from upload to result.
    expect(consumer.name).toBe(`process ${job.queueName}`);
    expect(consumer.spanContext().traceId).toBe(upload.spanContext().traceId);
    expect(consumer.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId);
    expect(consumer.links).toEqual([]);

    const stages = exporter
      .getFinishedSpans()
      .filter((s) => s.parentSpanContext?.spanId === consumer.spanContext().spanId && STAGES.includes(s.name))
      .sort((a, b) => hrMs(a.startTime) - hrMs(b.startTime));
    expect(stages.map((s) => s.name)).toEqual(STAGES);
    for (const span of stages) {
      expect(span.spanContext().traceId).toBe(consumer.spanContext().traceId);
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      // Within the consumer span, one after the other.
      expect(hrMs(span.startTime)).toBeGreaterThanOrEqual(hrMs(consumer.startTime));
      expect(hrMs(span.endTime)).toBeLessThanOrEqual(hrMs(consumer.endTime));
    }
    // Entering a stage ends the one before (start times are whole milliseconds, end times finer).
    for (let i = 1; i < stages.length; i++)
      expect(hrMs(stages[i]!.startTime)).toBeGreaterThanOrEqual(Math.floor(hrMs(stages[i - 1]!.endTime)));

    const inference = stages.find((s) => s.name === 'inference')!;
    expect(inference.attributes).toEqual({
      'fathom.model': 'depth-test',
      'fathom.model.version': '1.0.0',
      'fathom.model.variant': '',
      'fathom.batch.size': 1,
      'fathom.execution_provider': 'cpu',
      'fathom.input.width': 64,
      'fathom.input.height': 48,
      'fathom.input.bytes': png.length,
    });

    // The job's log lines carry the consumer span's trace and span ids, once each.
    const completed = logLines.find((l) => l.msg === 'job completed' && l.jobId === job.id);
    expect(completed).toMatchObject({
      jobId: job.id,
      model: 'depth-test',
      traceId: consumer.spanContext().traceId,
      spanId: consumer.spanContext().spanId,
    });
    expect(completed!.raw.match(/"traceId"/g)).toHaveLength(1);
  });

  it('marks the stage that failed, and the consumer span, as errors', async () => {
    const { events, submit } = await consume(true);
    const job = await submit(Buffer.from('not an image at all'));
    await expect(job.waitUntilFinished(events, 15_000)).rejects.toThrow(/\[image_undecodable\]/);
    const consumer = await ended.next((s) => s.kind === SpanKind.CONSUMER && s.attributes['bullmq.job.id'] === job.id);
    const children = exporter
      .getFinishedSpans()
      .filter((s) => s.parentSpanContext?.spanId === consumer.spanContext().spanId && STAGES.includes(s.name));

    expect(children.map((s) => s.name).sort()).toEqual(['decode', 'fetch']);
    const decode = children.find((s) => s.name === 'decode')!;
    expect(decode.status).toMatchObject({ code: SpanStatusCode.ERROR, message: expect.stringContaining('[image_undecodable]') });
    expect(decode.events.map((e) => e.name)).toEqual(['exception']);
    expect(consumer.status.code).toBe(SpanStatusCode.ERROR);
    expect(consumer.attributes['error.type']).toBe('image_undecodable');
  });

  it('creates no span when tracing is off, and logs the trace id the API gave the job instead', async () => {
    const { events, submit } = await consume(false);
    const before = exporter.getFinishedSpans().length;
    const job = await submit(png);
    await job.waitUntilFinished(events, 15_000);

    expect(
      exporter
        .getFinishedSpans()
        .slice(before)
        .map((s) => s.name),
    ).toEqual([]);
    const completed = logLines.find((l) => l.msg === 'job completed' && l.jobId === job.id);
    expect(completed).toMatchObject({ jobId: job.id, model: 'depth-test', traceId: job.data.traceId });
    expect(completed).not.toHaveProperty('spanId');
    expect(completed!.raw.match(/"traceId"/g)).toHaveLength(1);
  });
});

function hrMs([seconds, nanos]: [number, number]): number {
  return seconds * 1e3 + nanos / 1e6;
}
