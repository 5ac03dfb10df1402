import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import sharp from 'sharp';
import type { InferenceJobData } from '@fathom/contracts';
import { modelManifestSchema, specsFromManifest } from '@fathom/models';
import { FilesystemBlobStore, type BlobStore } from '@fathom/storage';
import { buildSlowDepthModel, startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { DEFAULT_PNG_ENCODING } from '../imaging/png-encoding';
import { InferencePool } from '../inference/inference.pool';
import { modelLabels, WorkerMetrics } from '../metrics/worker.metrics';
import { JobStageSpans } from '../tracing/job-stage.spans';
import { artifactName, JobExecutionService, type JobAttempt } from './job-execution.service';
import { JobProgressReporter } from './job-progress.reporter';
import { JobStageTracker } from './job-stage.tracker';
import { JobError } from './job.errors';

describe('artifactName', () => {
  const data = (filename?: string) => ({ jobId: 'j1', input: { filename } }) as InferenceJobData;

  it('names the download after the upload, the artifact and its type', () => {
    expect(artifactName(data('holiday photo.jpg'), 'depth', 'png')).toBe('holiday photo.depth.png');
    expect(artifactName(data('cat.png'), 'shares', 'json')).toBe('cat.shares.json');
    expect(artifactName(data('../../etc/passwd'), 'mask', 'png')).toBe('passwd.mask.png');
    expect(artifactName(data(undefined), 'depth', 'png')).toBe('j1.depth.png');
  });
});

describe('JobExecutionService: one attempt at a job', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-execution-'));
  writeFileSync(join(dir, 'square.onnx'), buildSlowDepthModel({ side: 28, matmulLayers: 1 }));
  const [spec] = specsFromManifest(
    modelManifestSchema.parse({
      name: 'square',
      version: '1.0.0',
      task: 'depth',
      weights: 'square.onnx',
      input: { resize: { mode: 'keep-aspect', multiple: 14, target: 28, fit: 'lower-bound', maxSide: 112 } },
    }),
    { manifestFile: join(dir, 'square.model.json'), cacheDir: dir },
  );
  const model = { name: 'square', version: '1.0.0', task: 'depth' as const };
  let redisServer: RedisServerHandle;
  let redis: Redis;
  let blobs: BlobStore;
  let pool: InferencePool;
  let service: JobExecutionService;
  let metrics: WorkerMetrics;

  beforeAll(async () => {
    redisServer = await startRedisServer();
    redis = new Redis(redisServer.url);
    blobs = new FilesystemBlobStore(join(dir, 'blobs'), 'fathom-test');
    metrics = new WorkerMetrics('cpu');
    pool = new InferencePool(
      { models: [spec!], intraOpThreads: 1, sharpThreads: 1, executionProviders: ['cpu'], maxPixels: 40e6, png: DEFAULT_PNG_ENCODING },
      1,
    );
    await pool.start();
    service = new JobExecutionService(pool, blobs, 'worker-test', pino({ level: 'silent' }), metrics);
  });
  afterAll(async () => {
    await pool.close();
    redis.disconnect();
    await redisServer.stop();
  });

  /** An uploaded input and the attempt BullMQ would hand over for it. */
  async function upload(image: Buffer): Promise<JobAttempt> {
    const jobId = randomUUID();
    const blobKey = blobs.inputKey(jobId);
    await blobs.put(blobKey, image);
    const data: InferenceJobData = {
      jobId,
      task: 'depth',
      model,
      input: { blobKey, bytes: image.length, format: 'png', width: 48, height: 48 },
      options: { output: 'grayscale', colormap: 'turbo' },
      submittedAt: Date.now(),
    };
    const progress = new JobProgressReporter({ updateProgress: async () => undefined }, (error) => {
      throw error;
    });
    const stages = new JobStageTracker(modelLabels(model), { progress, spans: JobStageSpans.underActiveSpan(), metrics });
    return { data, model, number: 1, enqueuedAt: Date.now(), takenAt: Date.now(), stages };
  }

  it('stores the artifacts and returns the result, leaving the input for BullMQ to record the outcome first', async () => {
    const image = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#406080' } })
      .png()
      .toBuffer();
    const attempt = await upload(image);
    const result = await service.execute(attempt);
    await attempt.stages.end();
    expect(result).toMatchObject({ primary: 'depth', workerId: 'worker-test', executionProvider: 'cpu' });
    expect(await blobs.get(result.artifacts[0]!.blobKey)).not.toBeNull();
    expect(await blobs.get(attempt.data.input.blobKey)).not.toBeNull();
    await service.jobEnded({ jobId: attempt.data.jobId, blobKey: attempt.data.input.blobKey });
    expect(await blobs.get(attempt.data.input.blobKey)).toBeNull();
  });

  it('counts a job whose input features were left out, by model and side, and still completes it', async () => {
    const skipped = () => metrics.registry.getSingleMetricAsString('fathom_prediction_features_skipped_total');
    const png = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#406080' } })
      .png()
      .toBuffer();
    await service.execute(await upload(png));
    expect(await skipped()).not.toContain('side=');
    // An SVG: sharp decodes it, but the prediction log names no such format, so the input side is skipped.
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48"><rect width="48" height="48" fill="#406080"/></svg>',
    );
    const result = await service.execute(await upload(svg));
    expect(result).toMatchObject({ primary: 'depth' });
    expect(await skipped()).toContain('fathom_prediction_features_skipped_total{model="square",version="1.0.0",side="input"} 1');
    expect(await skipped()).not.toContain('side="output"');
  });

  it('fails the attempt retryably when the store cannot be read or written, and for good only when the input is gone', async () => {
    const image = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#406080' } })
      .png()
      .toBuffer();
    // A store that cannot be used: a file stands where its folder should be.
    const blocked = join(dir, 'blocked');
    writeFileSync(blocked, 'not a folder');
    const unreadable = new JobExecutionService(
      pool,
      new FilesystemBlobStore(blocked, 'fathom-test'),
      'worker-test',
      pino({ level: 'silent' }),
      metrics,
    );
    const attempt = await upload(image);
    await expect(unreadable.execute(attempt)).rejects.toMatchObject({ code: 'store_unavailable', retryable: true });
    await attempt.stages.end();

    // The input read, the result not written (a file where the job's result folder goes): retried too.
    const unwritable = await upload(image);
    mkdirSync(join(dir, 'blobs', 'fathom-test', 'result'), { recursive: true });
    writeFileSync(join(dir, 'blobs', 'fathom-test', 'result', unwritable.data.jobId), 'in the way');
    await expect(service.execute(unwritable)).rejects.toMatchObject({ code: 'store_unavailable', retryable: true });
    await unwritable.stages.end();

    const gone = await upload(image);
    await blobs.delete(gone.data.input.blobKey);
    await expect(service.execute(gone)).rejects.toMatchObject({ code: 'input_expired', retryable: false });
    await gone.stages.end();
  });

  it('throws a known failure with its code and whether a retry could help', async () => {
    const attempt = await upload(Buffer.from('not an image'));
    await expect(service.execute(attempt)).rejects.toMatchObject({ code: 'image_undecodable', retryable: false });
    await expect(service.execute(attempt)).rejects.toBeInstanceOf(JobError);
  });

  it('drops a job taken after its deadline, final, before reading its input; runs one taken before it to the end', async () => {
    const image = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#406080' } })
      .png()
      .toBuffer();
    const late = await upload(image);
    late.data.deadline = late.takenAt - 1;
    await expect(service.execute(late)).rejects.toMatchObject({ code: 'deadline_exceeded', retryable: false });
    expect(late.stages.timings).toEqual({ decode: 0, preprocess: 0, inference: 0, postprocess: 0, encode: 0 });
    await late.stages.end();
    expect(await blobs.get(late.data.input.blobKey)).not.toBeNull(); // released once BullMQ records the failure

    // Taken just in time: the deadline passing mid-run does not interrupt it.
    const onTime = await upload(image);
    onTime.data.deadline = onTime.takenAt;
    await expect(service.execute(onTime)).resolves.toMatchObject({ primary: 'depth' });
    await onTime.stages.end();
  });
});
