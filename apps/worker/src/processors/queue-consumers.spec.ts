import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import sharp from 'sharp';
import { INFERENCE_JOB_NAME, inferenceQueueName, type InferenceJobData, type ServedModel } from '@fathom/contracts';
import { modelManifestSchema, specsFromManifest } from '@fathom/models';
import {
  BullmqLayout,
  createInferenceQueue,
  DEFAULT_REDIS_TIMEOUTS,
  inferenceJobOptions,
  InFlightStore,
  RedisAvailability,
  type InferenceQueue,
} from '@fathom/queue';
import { FilesystemBlobStore } from '@fathom/storage';
import { buildSlowDepthModel, startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { DEFAULT_PNG_ENCODING } from '../imaging/png-encoding';
import { InferencePool } from '../inference/inference.pool';
import { JobExecutionService } from '../jobs/job-execution.service';
import { WorkerMetrics } from '../metrics/worker.metrics';
import { InferenceProcessor } from './inference.processor';
import { QueueConsumers } from './queue-consumers';

const PREFIX = 'fathom-test';

/**
 * A job's input is deleted once BullMQ has recorded that the job will not run again, never
 * before: a worker killed between a delete and BullMQ's record would leave a job that BullMQ runs
 * again (stalled) without its input. Its key's place among the jobs in flight is given back then
 * too. Real redis-server, real BullMQ, a real inference pool.
 */
describe('the input lives until BullMQ has recorded that the job will not run again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-consumers-'));
  // Square inputs only: a wide image reaches the model as 56×28 and its MatMul fails (a retryable inference failure).
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
  const queueName = inferenceQueueName('square', '1.0.0');
  const served: ServedModel = {
    name: 'square',
    version: '1.0.0',
    task: 'depth',
    queue: queueName,
    input: { name: 'pixel_values', description: '' },
    executionProvider: 'cpu',
  };
  let redisServer: RedisServerHandle;
  let redis: Redis;
  let notifications: Redis;
  let blobs: DeletionWatchingStore;
  let pool: InferencePool;
  let consumers: QueueConsumers;
  let queue: InferenceQueue;
  let events: QueueEvents;
  let inFlight: InFlightStore;

  beforeAll(async () => {
    redisServer = await startRedisServer();
    redis = new Redis(redisServer.url);
    // Keyspace notifications for generic commands (DEL): the test hears the input go instead of polling for it.
    await redis.config('SET', 'notify-keyspace-events', 'Kg');
    notifications = new Redis(redisServer.url);
    blobs = new DeletionWatchingStore(join(dir, 'blobs'), PREFIX);
    const logger = pino({ level: 'silent' });
    const metrics = new WorkerMetrics('cpu');
    pool = new InferencePool(
      { models: [spec!], intraOpThreads: 1, sharpThreads: 1, executionProviders: ['cpu'], maxPixels: 40e6, png: DEFAULT_PNG_ENCODING },
      1,
    );
    await pool.start();
    inFlight = new InFlightStore(redis, PREFIX, new BullmqLayout(redis, PREFIX), 600);
    const processor = new InferenceProcessor(
      new JobExecutionService(pool, blobs, 'worker-test', logger, metrics),
      metrics,
      logger,
      inFlight,
    );
    consumers = new QueueConsumers(
      {
        redis: { url: redisServer.url, ...DEFAULT_REDIS_TIMEOUTS },
        prefix: PREFIX,
        tracing: false,
        workerId: 'worker-test',
        stalls: { lockDurationMs: 10_000, stalledIntervalMs: 5_000, maxStalledCount: 1 },
      },
      processor,
      metrics,
      logger,
      new RedisAvailability(redis, logger, 1_000),
    );
    consumers.start([served], () => 1);
    queue = createInferenceQueue(queueName, { url: redisServer.url }, PREFIX);
    events = new QueueEvents(queueName, { connection: { url: redisServer.url, maxRetriesPerRequest: null }, prefix: PREFIX });
    await events.waitUntilReady();
  });
  afterAll(async () => {
    await events.close();
    await queue.close();
    await consumers.close();
    await pool.close();
    notifications.disconnect();
    redis.disconnect();
    await redisServer.stop();
  });

  /** Starts listening for the key's deletion; `deleted` resolves when it is gone. */
  async function watchDeletion(key: string): Promise<{ deleted: Promise<void> }> {
    const channel = `__keyspace@0__:${key}`;
    const deleted = new Promise<void>((resolve) => {
      const onMessage = (from: string, event: string) => {
        if (from !== channel || event !== 'del') return;
        notifications.off('message', onMessage);
        resolve();
      };
      notifications.on('message', onMessage);
    });
    await notifications.subscribe(channel);
    return { deleted: deleted.then(async () => void (await notifications.unsubscribe(channel))) };
  }

  /**
   * Uploads the image as the API does, counts it among its own key's jobs in flight and queues a
   * job for it; `deleted` resolves when its input goes, `givenBack` when its key's place does.
   */
  async function submit(image: Buffer, attempts: number) {
    const jobId = randomUUID();
    const keyId = `key-${jobId}`;
    const blobKey = blobs.inputKey(jobId);
    await blobs.put(blobKey, image);
    const deleted = blobs.deletion(blobKey);
    expect(await inFlight.admit(keyId, { id: jobId, queue: queueName }, 1)).toEqual({ admitted: true });
    const { deleted: givenBack } = await watchDeletion(`${PREFIX}:in-flight:${keyId}`);
    const data: InferenceJobData = {
      jobId,
      task: 'depth',
      model: { name: 'square', version: '1.0.0', task: 'depth', route: 'pinned' },
      input: { blobKey, bytes: image.length, format: 'png', width: 48, height: 48 },
      options: { output: 'grayscale', colormap: 'turbo' },
      submittedAt: Date.now(),
      keyId,
    };
    const job = await queue.add(INFERENCE_JOB_NAME, data, inferenceJobOptions(jobId, { attempts, backoffMs: 50, retentionSeconds: 600 }));
    return { job, blobKey, deleted, keyId, givenBack };
  }

  const png = (width: number, height: number) =>
    sharp({ create: { width, height, channels: 3, background: '#406080' } })
      .png()
      .toBuffer();

  it('deletes it once the job completed, with its artifacts stored', async () => {
    const { job, blobKey, deleted, keyId, givenBack } = await submit(await png(48, 48), 3);
    const result = await job.waitUntilFinished(events, 30_000);
    await Promise.all([deleted, givenBack]);
    expect(await inFlight.count(keyId)).toBe(0);
    expect(await blobs.get(blobKey)).toBeNull();
    expect(await blobs.get(result.artifacts[0]!.blobKey)).not.toBeNull();
  });

  it('keeps it for the retry of a failed attempt (which fails for its own reason, not for a missing input), then deletes it', async () => {
    const { job, blobKey, deleted, keyId, givenBack } = await submit(await png(64, 32), 2);
    await expect(job.waitUntilFinished(events, 30_000)).rejects.toThrow(/^\[inference_failed\]/);
    await Promise.all([deleted, givenBack]);
    expect(await inFlight.count(keyId)).toBe(0);
    const failed = await queue.getJob(job.id!);
    expect(failed?.attemptsMade).toBe(2);
    expect(await blobs.get(blobKey)).toBeNull();
  });

  it('deletes it after the first attempt when no attempt could succeed (an undecodable image)', async () => {
    const { job, blobKey, deleted, givenBack } = await submit(Buffer.from('not an image'), 3);
    await expect(job.waitUntilFinished(events, 30_000)).rejects.toThrow(/^\[image_undecodable\]/);
    await Promise.all([deleted, givenBack]);
    expect((await queue.getJob(job.id!))?.attemptsMade).toBe(1);
    expect(await blobs.get(blobKey)).toBeNull();
  });
});

/** The real filesystem store, saying when a key was deleted (the event Redis' keyspace notifications gave before). */
class DeletionWatchingStore extends FilesystemBlobStore {
  private readonly deletes = new EventEmitter();

  override async delete(key: string): Promise<void> {
    await super.delete(key);
    this.deletes.emit(key);
  }

  /** Resolves when `key` has been deleted; ask before the deletion can happen. */
  deletion(key: string): Promise<void> {
    return once(this.deletes, key).then(() => undefined);
  }
}
