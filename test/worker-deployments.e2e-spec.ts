import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import {
  DEFAULT_KEY_PREFIX,
  INFERENCE_JOB_NAME,
  inferenceQueueName,
  type DesiredDeployment,
  type InferenceJobData,
  type InferenceResult,
} from '@fathom/contracts';
import { DeploymentMirror, inferenceJobOptions, WorkerRegistry } from '@fathom/queue';
import { buildDepthStandInModel } from '@fathom/testing';
import { simulatedInferenceEnv } from '../bench/hooks/simulated-inference';
import { depthModelsDir, FathomStack, NULL_MODEL_INPUT, type WorkerProcess } from './support/fathom-stack';
import { parseExposition } from './support/prometheus-exposition';

/** Each session.run holds its thread this long: a job is still in hand when its deployment is removed. */
const INFERENCE_MS = 1_500;

/**
 * A worker process serves a model version registered at runtime (ADR 0015) with no restart: the
 * API's side is stood in for by what it writes — the weights in the object store, the deployment
 * in the Redis mirror — and the jobs it queues. Real redis-server, object store folder, BullMQ,
 * onnxruntime, a real worker process.
 */
describe('a running worker picks up a deployment from the registry, serves it, and lets it go', () => {
  let stack: FathomStack;
  let worker: WorkerProcess;
  let redis: Redis;
  let mirror: DeploymentMirror;
  let registry: WorkerRegistry;
  const closing: Array<{ close(): Promise<void> }> = [];
  const weights = buildDepthStandInModel({ inverted: true });
  const sha256 = createHash('sha256').update(weights).digest('hex');
  const deployment: DesiredDeployment = {
    id: '01JDEPLOYMENT0000000000001',
    name: 'registered-depth',
    version: '2.0.0',
    task: 'depth',
    state: 'warming',
    source: 'upload',
    manifest: { name: 'registered-depth', version: '2.0.0', task: 'depth', weights: { store: sha256 }, ...NULL_MODEL_INPUT },
    weights: { '': { sha256, bytes: weights.length } },
    selector: { pool: 'depth' },
    revision: 1,
  };

  beforeAll(async () => {
    stack = await FathomStack.start();
    worker = await stack.startWorker({
      MODELS_DIR: depthModelsDir(undefined, 'local-depth', NULL_MODEL_INPUT),
      WORKER_BUILTIN_MODELS: 'false',
      WORKER_LABELS: 'pool=depth,zone=test',
      WORKER_CONCURRENCY: '1',
      ...simulatedInferenceEnv(INFERENCE_MS),
    });
    redis = new Redis(stack.redis.url);
    mirror = new DeploymentMirror(redis, DEFAULT_KEY_PREFIX);
    registry = new WorkerRegistry(redis, DEFAULT_KEY_PREFIX, 60_000);
  });
  afterAll(async () => {
    for (const c of closing) await c.close();
    redis?.disconnect();
    await stack?.stop();
  });

  const heartbeat = async () => (await registry.liveWorkers())[0]!;
  const modelsLoaded = async () => {
    const scrape = parseExposition(await (await fetch(await FathomStack.metricsUrl(worker))).text());
    return scrape.samples.find((s) => s.name === 'fathom_worker_models_loaded')?.value;
  };

  async function queueJob(): Promise<{ done: Promise<InferenceResult>; active: Promise<void> }> {
    const queueName = inferenceQueueName(deployment.name, deployment.version);
    const queue = new Queue<InferenceJobData>(queueName, { connection: { url: stack.redis.url }, prefix: DEFAULT_KEY_PREFIX });
    const events = new QueueEvents(queueName, {
      connection: { url: stack.redis.url, maxRetriesPerRequest: null },
      prefix: DEFAULT_KEY_PREFIX,
    });
    closing.push(queue, events);
    await events.waitUntilReady();
    const jobId = `job-${Date.now()}`;
    const image = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#406080' } })
      .png()
      .toBuffer();
    await stack.blobs.put(stack.blobs.inputKey(jobId), image);
    const active = new Promise<void>((resolve) => events.on('active', ({ jobId: id }) => id === jobId && resolve()));
    const job = await queue.add(
      INFERENCE_JOB_NAME,
      {
        jobId,
        task: 'depth',
        model: { name: deployment.name, version: deployment.version, task: 'depth', route: 'pinned' },
        input: { blobKey: stack.blobs.inputKey(jobId), bytes: image.length, format: 'png', width: 32, height: 32 },
        options: { output: 'grayscale', colormap: 'turbo' },
        submittedAt: Date.now(),
      },
      inferenceJobOptions(jobId, { attempts: 1, backoffMs: 50, retentionSeconds: 600 }),
    );
    return { done: job.waitUntilFinished(events, 30_000) as Promise<InferenceResult>, active };
  }

  it('loads it once registered, reports it serving with its labels, and runs its jobs', async () => {
    expect(await modelsLoaded()).toBe(1);
    await stack.blobs.put(stack.blobs.weightsKey(sha256), weights);
    await mirror.put(deployment);
    await worker.waitForLine(new RegExp(`"msg":"deployment serving".*"deployment":"${deployment.id}"`), 30_000);

    const beat = await heartbeat();
    expect(beat.labels).toEqual({ pool: 'depth', zone: 'test' });
    expect(beat.deployments).toEqual([{ deploymentId: deployment.id, state: 'serving', since: expect.any(Number) }]);
    expect(beat.models.map((m) => `${m.name}@${m.version}`).sort()).toEqual(['local-depth@1.0.0', 'registered-depth@2.0.0']);
    expect(await modelsLoaded()).toBe(2);
    // Content-addressed in the worker's model cache.
    expect(readFileSync(join(stack.cacheDir, 'store', `${sha256}.onnx`))).toEqual(weights);

    const { done } = await queueJob();
    const result = await done;
    expect(result.model).toMatchObject({ name: 'registered-depth', version: '2.0.0' });
    expect(await stack.blobs.get(result.artifacts[0]!.blobKey)).not.toBeNull();
  });

  it('removed from the registry with a job in hand: the job completes, then the model is unloaded and no longer announced', async () => {
    const { done, active } = await queueJob();
    await active;
    await mirror.remove(deployment.id);
    await expect(done).resolves.toMatchObject({ model: { name: 'registered-depth' } });
    await worker.waitForLine(/"msg":"deployment unloaded/, 30_000);
    const beat = await heartbeat();
    expect(beat.deployments).toEqual([]);
    expect(beat.models.map((m) => m.name)).toEqual(['local-depth']);
    expect(await modelsLoaded()).toBe(1);
  });
});
