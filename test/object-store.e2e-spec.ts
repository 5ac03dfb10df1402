import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { DEFAULT_KEY_PREFIX, inferenceQueueName, type JobAccepted } from '@fathom/contracts';
import { S3BlobStore } from '@fathom/storage';
import { startS3Server, type S3ServerHandle } from '@fathom/testing';
import { depthModelsDir, FathomStack, NULL_MODEL_INPUT, submit, type WorkerProcess } from './support/fathom-stack';

const MODEL = 's3-depth';

describe('uploads and results in an S3 bucket (s3rver over HTTP), through the API and a worker', () => {
  let s3: S3ServerHandle;
  let stack: FathomStack;
  let worker: WorkerProcess;
  let bucket: S3BlobStore;
  let image: Buffer;
  let redis: Redis;
  let queue: Queue;

  beforeAll(async () => {
    s3 = await startS3Server();
    stack = await FathomStack.start();
    // Attempts enough to outlast a short outage; the first retry comes quickly.
    await stack.startApi({ ...s3.env, API_JOB_ATTEMPTS: '6', API_JOB_BACKOFF_MS: '200', STORAGE_S3_TIMEOUT_MS: '1000' });
    worker = await stack.startWorker({
      ...s3.env,
      STORAGE_S3_TIMEOUT_MS: '1000',
      MODELS_DIR: depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT),
      WORKER_BUILTIN_MODELS: 'false',
    });
    bucket = new S3BlobStore(
      {
        bucket: s3.bucket,
        endpoint: s3.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
        timeoutMs: 2_000,
      },
      DEFAULT_KEY_PREFIX,
    );
    image = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 30, g: 120, b: 200 } } })
      .png()
      .toBuffer();
    redis = new Redis(stack.redis.url, { maxRetriesPerRequest: null });
    queue = new Queue(inferenceQueueName(MODEL, '1.0.0'), { connection: redis, prefix: DEFAULT_KEY_PREFIX });
  });
  afterAll(async () => {
    await queue?.close();
    redis?.disconnect();
    await bucket?.close();
    await stack?.stop();
    await s3?.remove();
  });

  it('runs a job: the result is an object in the bucket, served back as the PNG, and the input is gone', async () => {
    const job = (await (await submit(stack.api, { image, model: MODEL })).json()) as JobAccepted;
    expect(await stack.jobEnd(job.id)).toMatchObject({ state: 'completed', attempts: 1 });
    const result = await fetch(`${stack.api.url}/v1/jobs/${job.id}/result`);
    expect(result.status).toBe(200);
    const served = Buffer.from(await result.arrayBuffer());
    expect(await sharp(served).metadata()).toMatchObject({ format: 'png', width: 64, height: 48 });
    expect((await bucket.get(bucket.resultKey(job.id, 'depth')))?.equals(served)).toBe(true);
    expect(await bucket.get(bucket.inputKey(job.id))).toBeNull();
  });

  it('with API_RESULT_REDIRECT_SECONDS, sends the client to the bucket: 302 to a presigned URL that serves the same PNG', async () => {
    const redirecting = await stack.startApi({ ...s3.env, API_RESULT_REDIRECT_SECONDS: '60' });
    const job = (await (await submit(redirecting, { image, model: MODEL })).json()) as JobAccepted;
    await stack.jobEnd(job.id, { api: redirecting });
    const answer = await fetch(`${redirecting.url}/v1/jobs/${job.id}/result`, { redirect: 'manual' });
    expect(answer.status).toBe(302);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    const location = new URL(answer.headers.get('location') ?? '');
    expect(location.origin).toBe(s3.endpoint);
    expect(location.searchParams.get('X-Amz-Expires')).toBe('60');
    const fromBucket = await fetch(location);
    expect(fromBucket.status).toBe(200);
    expect(fromBucket.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await fromBucket.arrayBuffer()).equals((await bucket.get(bucket.resultKey(job.id, 'depth')))!)).toBe(true);
    // The API's answers stay the API's: not ready, failed or expired are its errors, never a link.
    await bucket.delete(bucket.resultKey(job.id, 'depth'));
    const expired = await fetch(`${redirecting.url}/v1/jobs/${job.id}/result`, { redirect: 'manual' });
    expect(expired.status).toBe(410);
  });

  it('answers 503 store_unavailable with Retry-After while the bucket is down, and a queued job waits it out by retrying', async () => {
    // A job accepted while the store is up, held in its queue while the store goes away.
    await queue.pause();
    const job = (await (await submit(stack.api, { image, model: MODEL })).json()) as JobAccepted;
    await s3.stop();
    try {
      const refused = await submit(stack.api, { image, model: MODEL });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('store_unavailable');

      // The worker takes it and cannot read its input: that attempt fails, to be retried (not input_expired).
      const retried = worker.waitForLine(
        new RegExp(
          `"msg":"input not read; will retry if attempts remain".*"jobId":"${job.id}"|"jobId":"${job.id}".*"msg":"input not read; will retry`,
        ),
        20_000,
      );
      await queue.resume();
      await retried;
    } finally {
      await s3.restart();
    }

    // Back on the same folder: the next attempt reads the input, and the job completes whole.
    const status = await stack.jobEnd(job.id);
    expect(status).toMatchObject({ state: 'completed' });
    expect(status.attempts).toBeGreaterThanOrEqual(2);
    const result = await fetch(`${stack.api.url}/v1/jobs/${job.id}/result`);
    expect(result.status).toBe(200);
    expect(await sharp(Buffer.from(await result.arrayBuffer())).metadata()).toMatchObject({ format: 'png', width: 64, height: 48 });
  });
});
