import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueEvents } from 'bullmq';
import { onnx } from 'onnx-proto';
import { Redis } from 'ioredis';
import pino from 'pino';
import sharp from 'sharp';
import {
  INFERENCE_JOB_NAME,
  inferenceQueueName,
  type DesiredDeployment,
  type InferenceJobData,
  type WorkerDeploymentReport,
  type WorkerHeartbeat as Heartbeat,
} from '@fathom/contracts';
import { modelManifestSchema, specsFromManifest } from '@fathom/models';
import {
  BullmqLayout,
  createInferenceQueue,
  createRedisConnection,
  DEFAULT_REDIS_TIMEOUTS,
  DeploymentMirror,
  inferenceJobOptions,
  InFlightStore,
  RedisAvailability,
  WorkerRegistry,
} from '@fathom/queue';
import { FilesystemBlobStore } from '@fathom/storage';
import { buildDepthStandInModel, sharedPath, startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { WorkerHeartbeat } from '../heartbeat/worker-heartbeat';
import { DEFAULT_PNG_ENCODING } from '../imaging/png-encoding';
import { InferencePool } from '../inference/inference.pool';
import { JobExecutionService } from '../jobs/job-execution.service';
import { WorkerMetrics } from '../metrics/worker.metrics';
import { servedModel } from '../models/served-model';
import { InferenceProcessor } from '../processors/inference.processor';
import { QueueConsumers } from '../processors/queue-consumers';
import { SESSION_BYTES_PER_WEIGHTS_BYTE } from './deployment-plan';
import { DeploymentWatcher } from './deployment.watcher';
import { ModelServing } from './model-serving';

const PREFIX = 'fathom-test';

/**
 * A worker's side of deployments registered at runtime (ADR 0015), with real parts: redis-server,
 * the Redis mirror the API writes, a filesystem object store holding the weights, BullMQ, and an
 * inference pool on real onnxruntime. A deployment put in the mirror is pulled, warmed up and
 * served — its jobs complete — and reported in the heartbeat; removed, it is unloaded; broken
 * weights fail with their reason while everything else keeps serving.
 */
describe('a worker loads and unloads registered deployments as the mirror changes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-deployments-'));
  const cacheDir = join(dir, 'cache');
  const plain = buildDepthStandInModel();
  const inverted = buildDepthStandInModel({ inverted: true });
  writeFileSync(join(dir, 'local.onnx'), plain);
  const fixed = { resize: { mode: 'fixed', width: 32, height: 32 } };
  const local = specsFromManifest(
    modelManifestSchema.parse({ name: 'local', version: '1.0.0', task: 'depth', weights: 'local.onnx', input: fixed }),
    {
      manifestFile: join(dir, 'local.model.json'),
      cacheDir,
    },
  );
  const LABELS = { pool: 'depth' };
  // The stand-in with a 400 kB doc string appended (protobuf merges concatenated messages): large
  // enough for the memory budget to tell one deployment from two.
  const heavy = Buffer.concat([plain, Buffer.from(onnx.ModelProto.encode({ docString: 'x'.repeat(400_000) }).finish())]);
  // Room for one heavy deployment on one thread (and any of the broken files), not two.
  const budgetBytes = Math.ceil(1.5 * heavy.length * SESSION_BYTES_PER_WEIGHTS_BYTE);

  let redisServer: RedisServerHandle;
  let redis: Redis;
  let blobs: FilesystemBlobStore;
  let pool: InferencePool;
  let consumers: QueueConsumers;
  let heartbeat: WorkerHeartbeat;
  let registry: WorkerRegistry;
  let mirror: DeploymentMirror;
  let watcher: DeploymentWatcher;
  const queues: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    redisServer = await startRedisServer();
    redis = new Redis(redisServer.url);
    blobs = new FilesystemBlobStore(join(dir, 'blobs'), PREFIX);
    const logger = pino({ level: 'silent' });
    const metrics = new WorkerMetrics('cpu');
    const availability = new RedisAvailability(redis, logger, 1_000);
    pool = new InferencePool(
      { models: local, intraOpThreads: 1, sharpThreads: 1, executionProviders: ['cpu'], maxPixels: 40e6, png: DEFAULT_PNG_ENCODING },
      1,
    );
    const loaded = await pool.start();
    const processor = new InferenceProcessor(
      new JobExecutionService(pool, blobs, 'worker-test', logger, metrics),
      metrics,
      logger,
      new InFlightStore(redis, PREFIX, new BullmqLayout(redis, PREFIX), 600),
    );
    const settings = { url: redisServer.url, ...DEFAULT_REDIS_TIMEOUTS };
    consumers = new QueueConsumers(
      {
        redis: settings,
        prefix: PREFIX,
        tracing: false,
        workerId: 'worker-test',
        stalls: { lockDurationMs: 10_000, stalledIntervalMs: 5_000, maxStalledCount: 1 },
      },
      processor,
      metrics,
      logger,
      availability,
    );
    const served = local.map((spec) => servedModel(spec, loaded[0]));
    consumers.start(served, () => 1);
    // The test reads heartbeats on the heartbeat's own connection: a read after a beat sees it.
    registry = new WorkerRegistry(redis, PREFIX, 60_000);
    heartbeat = new WorkerHeartbeat(registry, 'worker-test', 60_000, logger, availability, LABELS);
    await heartbeat.start(served);
    mirror = new DeploymentMirror(redis, PREFIX);
    watcher = new DeploymentWatcher(
      mirror,
      createRedisConnection(settings, 'blocking'),
      blobs,
      new ModelServing({ pool, consumers, heartbeat, config: { WORKER_CONCURRENCY: 1, WORKER_INFERENCE_THREADS: 1 } }),
      (reports) => heartbeat.reportDeployments(reports),
      { labels: LABELS, budgetBytes, threads: 1, cacheDir, local },
      logger,
      availability,
    );
    const first = passes();
    watcher.start();
    await first;
  });
  afterAll(async () => {
    await watcher.stop();
    for (const queue of queues) await queue.close();
    heartbeat.stop();
    await consumers.close();
    await pool.close();
    redis.disconnect();
    await redisServer.stop();
  });

  /** Resolves after the watcher's next pass. */
  const passes = () => new Promise<void>((resolve) => watcher.once('converged', () => resolve()));

  /** Waits for passes until the worker's heartbeat satisfies `check`; returns it. */
  async function heartbeatOnceConverged(check: (beat: Heartbeat) => boolean): Promise<Heartbeat> {
    for (;;) {
      const next = passes();
      await watcher.settled();
      const [beat] = await registry.liveWorkers();
      // A pass that started meanwhile may have announced a change it has not finished making.
      if (watcher.converging) continue;
      if (beat && check(beat)) return beat;
      await next;
    }
  }
  const reportOf = (beat: Heartbeat, id: string): WorkerDeploymentReport | undefined =>
    beat.deployments?.find((d) => d.deploymentId === id);
  const settled = (id: string) => (beat: Heartbeat) => ['serving', 'failed', 'skipped'].includes(reportOf(beat, id)?.state ?? '');

  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

  /** Stores the weights as the API does (content-addressed) and puts the deployment in the mirror. */
  async function register(
    id: string,
    weights: Buffer,
    over: Partial<DesiredDeployment> & { storedAs?: string } = {},
  ): Promise<DesiredDeployment> {
    const { storedAs, ...rest } = over;
    const sha = storedAs ?? sha256(weights);
    await blobs.put(blobs.weightsKey(sha), weights);
    const name = rest.name ?? `reg-${id}`;
    const deployment: DesiredDeployment = {
      id,
      name,
      version: '1.0.0',
      task: 'depth',
      state: 'warming',
      source: 'upload',
      manifest: { name, version: '1.0.0', task: 'depth', weights: { store: sha }, input: fixed },
      weights: { '': { sha256: sha, bytes: weights.length } },
      selector: {},
      revision: 1,
      ...rest,
    };
    await mirror.put(deployment);
    return deployment;
  }

  /** Queues a job on a model's queue as the API does and waits for its outcome. */
  async function runJob(name: string): Promise<{ artifacts: Array<{ name: string; blobKey: string }> }> {
    const queueName = inferenceQueueName(name, '1.0.0');
    const queue = createInferenceQueue(queueName, { url: redisServer.url }, PREFIX);
    const events = new QueueEvents(queueName, { connection: { url: redisServer.url, maxRetriesPerRequest: null }, prefix: PREFIX });
    queues.push(queue, events);
    await events.waitUntilReady();
    const jobId = randomUUID();
    const image = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#406080' } })
      .png()
      .toBuffer();
    await blobs.put(blobs.inputKey(jobId), image);
    const data: InferenceJobData = {
      jobId,
      task: 'depth',
      model: { name, version: '1.0.0', task: 'depth', route: 'pinned' },
      input: { blobKey: blobs.inputKey(jobId), bytes: image.length, format: 'png', width: 40, height: 40 },
      options: { output: 'grayscale', colormap: 'turbo' },
      submittedAt: Date.now(),
    };
    const job = await queue.add(
      INFERENCE_JOB_NAME,
      data,
      inferenceJobOptions(jobId, { attempts: 1, backoffMs: 50, retentionSeconds: 600 }),
    );
    return job.waitUntilFinished(events, 30_000);
  }

  it('pulls, warms up and serves a deployment put in the mirror: reported serving, its jobs complete; removed, it is unloaded', async () => {
    const deployment = await register('0001', inverted);
    const beat = await heartbeatOnceConverged(settled('0001'));
    expect(reportOf(beat, '0001')).toMatchObject({ state: 'serving' });
    expect(beat.labels).toEqual(LABELS);
    expect(beat.models.map((m) => m.queue).sort()).toEqual([inferenceQueueName('local', '1.0.0'), inferenceQueueName('reg-0001', '1.0.0')]);
    // The weights were fetched into the cache, content-addressed.
    expect(readFileSync(join(cacheDir, 'store', `${deployment.weights['']!.sha256}.onnx`))).toEqual(inverted);

    const result = await runJob('reg-0001');
    expect(result.artifacts.map((a) => a.name)).toEqual(['depth']);

    await mirror.remove('0001');
    const after = await heartbeatOnceConverged((b) => !reportOf(b, '0001'));
    expect(after.models.map((m) => m.name)).toEqual(['local']);
    expect(pool.serves('reg-0001@1.0.0')).toBe(false);
    expect(consumers.queues).toEqual([inferenceQueueName('local', '1.0.0')]);
  });

  it('reloads a deployment whose manifest changed (batching), not one whose state alone moved', async () => {
    const deployment = await register('0012', plain);
    const first = reportOf(await heartbeatOnceConverged(settled('0012')), '0012')!;
    expect(first.state).toBe('serving');
    // warming → serving (the API saw a worker serve it): the same sessions go on serving.
    const pass = passes();
    await mirror.put({ ...deployment, state: 'serving', revision: 2 });
    await pass;
    const [moved] = await registry.liveWorkers();
    expect(reportOf(moved!, '0012')).toEqual(first);
    // A PUT of batching rewrites the manifest: unloaded and loaded again with it.
    await mirror.put({ ...deployment, state: 'serving', revision: 3, manifest: { ...deployment.manifest, batching: { maxBatch: 2 } } });
    const reloaded = await heartbeatOnceConverged(
      (b) => reportOf(b, '0012')?.state === 'serving' && reportOf(b, '0012')!.since > first.since,
    );
    expect(reloaded.models.map((m) => m.name).sort()).toEqual(['local', 'reg-0012']);
    expect(pool.loadedModels.find((m) => m.key === 'reg-0012@1.0.0')).toMatchObject({ maxBatch: 2 });
    await mirror.remove('0012');
    await heartbeatOnceConverged((b) => (b.deployments ?? []).length === 0 && b.models.length === 1);
  });

  it('fails a Git LFS pointer, a web page and weights that do not match their sha256, each with its reason, while the rest keeps serving', async () => {
    const pointer = readFileSync(sharedPath('models/broken/git_lfs_pointer_depth_anything_v2_vits.onnx'));
    const page = readFileSync(sharedPath('models/broken/html_page_saved_as_mobilenetv2-7.onnx'));
    await register('0002', pointer);
    await register('0003', page);
    // Stored under another file's sha256: what the object store holds is not what was registered.
    const claimed = sha256(Buffer.from('the file that was registered'));
    await register('0004', plain, { storedAs: claimed });
    const beat = await heartbeatOnceConverged((b) => ['0002', '0003', '0004'].every((id) => settled(id)(b)));
    expect(reportOf(beat, '0002')).toMatchObject({
      state: 'failed',
      reason: expect.stringContaining('this is a Git LFS pointer, not a model'),
    });
    expect(reportOf(beat, '0003')).toMatchObject({ state: 'failed', reason: expect.stringContaining('this is an HTML page, not a model') });
    expect(reportOf(beat, '0004')).toMatchObject({
      state: 'failed',
      reason: `sha256 mismatch: the deployment expects ${claimed}, the object store's ${blobs.weightsKey(claimed)} (${plain.length} bytes) hashes to ${sha256(plain)}`,
    });
    expect(beat.models.map((m) => m.name)).toEqual(['local']);
    expect((await runJob('local')).artifacts.map((a) => a.name)).toEqual(['depth']);
    for (const id of ['0002', '0003', '0004']) await mirror.remove(id);
    await heartbeatOnceConverged((b) => (b.deployments ?? []).length === 0);
  });

  it('fails a deployment whose manifest does not fit the model, naming the tensor, and serves the next one', async () => {
    await register('0005', plain, {
      manifest: {
        name: 'reg-0005',
        version: '1.0.0',
        task: 'depth',
        weights: { store: sha256(plain) },
        input: { ...fixed, name: 'image' },
      },
    });
    await register('0006', inverted);
    const beat = await heartbeatOnceConverged((b) => settled('0005')(b) && settled('0006')(b));
    expect(reportOf(beat, '0005')).toMatchObject({
      state: 'failed',
      reason: 'deployment 0005 (reg-0005@1.0.0): input.name: "image" is not an input of this model (inputs: pixel_values)',
    });
    expect(reportOf(beat, '0006')).toMatchObject({ state: 'serving' });
    expect((await runJob('reg-0006')).artifacts.map((a) => a.name)).toEqual(['depth']);
    await mirror.remove('0005');
    await mirror.remove('0006');
    await heartbeatOnceConverged((b) => (b.deployments ?? []).length === 0 && b.models.length === 1);
  });

  it('leaves alone a deployment whose selector its labels do not match, and skips, with the numbers, one past its memory budget', async () => {
    await register('0007', plain, { selector: { pool: 'ocr' } });
    await register('0008', heavy);
    await register('0009', Buffer.concat([inverted, heavy.subarray(plain.length)]));
    const beat = await heartbeatOnceConverged((b) => settled('0008')(b) && settled('0009')(b));
    expect(reportOf(beat, '0007')).toBeUndefined();
    expect(pool.serves('reg-0007@1.0.0')).toBe(false);
    expect(reportOf(beat, '0008')).toMatchObject({ state: 'serving' });
    expect(reportOf(beat, '0009')).toMatchObject({
      state: 'skipped',
      reason: expect.stringMatching(
        /^needs about [\d.]+ MB \([\d.]+ MB of weights × 1 inference thread\(s\) × \d+\), but only [\d.]+ MB of WORKER_MEMORY_BUDGET_MB=[\d.]+ is left/,
      ),
    });
    // The one before it retired, it fits and is loaded.
    await mirror.put({ ...(await mirrorEntry('0008')), state: 'retired', revision: 2 });
    const next = await heartbeatOnceConverged((b) => reportOf(b, '0009')?.state === 'serving');
    expect(reportOf(next, '0008')).toBeUndefined();
    expect(next.models.map((m) => m.name).sort()).toEqual(['local', 'reg-0009']);
    for (const id of ['0007', '0008', '0009']) await mirror.remove(id);
    await heartbeatOnceConverged((b) => (b.deployments ?? []).length === 0 && b.models.length === 1);
  });

  it('stops serving a local model the registry retired (a tombstone), and serves it again once the tombstone is gone', async () => {
    const tombstone: DesiredDeployment = {
      id: '0010',
      name: 'local',
      version: '1.0.0',
      task: 'depth',
      state: 'retired',
      source: 'local',
      manifest: {},
      weights: {},
      selector: {},
      revision: 2,
    };
    await mirror.put(tombstone);
    const beat = await heartbeatOnceConverged((b) => b.models.length === 0);
    expect(beat.deployments).toEqual([]);
    expect(pool.serves('local@1.0.0')).toBe(false);
    expect(consumers.queues).toEqual([]);
    await mirror.remove('0010');
    await heartbeatOnceConverged((b) => b.models.length === 1);
    expect((await runJob('local')).artifacts.map((a) => a.name)).toEqual(['depth']);
  });

  it('keeps watching through a Redis outage: a deployment registered after Redis came back (empty) is served', async () => {
    await redisServer.kill();
    await redisServer.start();
    // The API's own connection (here, the test's) reconnects before it writes the mirror.
    if (redis.status !== 'ready') await once(redis, 'ready');
    await register('0011', inverted);
    const beat = await heartbeatOnceConverged(settled('0011'));
    expect(reportOf(beat, '0011')).toMatchObject({ state: 'serving' });
    expect((await runJob('reg-0011')).artifacts.map((a) => a.name)).toEqual(['depth']);
  });

  async function mirrorEntry(id: string): Promise<DesiredDeployment> {
    return (await mirror.readAll()).find((d) => d.id === id)!;
  }
});
