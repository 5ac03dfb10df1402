import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_KEY_PREFIX, inferenceQueueName, type JobAccepted, type JobStatus } from '@fathom/contracts';
import { createDatabase, PredictionStore } from '@fathom/database';
import { createRedisConnection, DEFAULT_REDIS_TIMEOUTS, RolloutStore, WorkerRegistry } from '@fathom/queue';
import { clusterKeySlot } from '@fathom/testing';
import {
  depthModelsDir,
  FathomStack,
  LOAD_TEST_LIMITS_ENV,
  nextEvent,
  NULL_MODEL_INPUT,
  stallPolicyEnv,
  submit,
  subscribe,
} from './support/fathom-stack';

const MODELS = ['depth-a', 'depth-b'] as const;

/** One MODELS_DIR serving two models (the depth stand-in at a tiny fixed input, under two names). */
function twoModelsDir(): string {
  const dir = depthModelsDir(undefined, MODELS[0], NULL_MODEL_INPUT);
  copyFileSync(join(dir, `${MODELS[0]}.onnx`), join(dir, `${MODELS[1]}.onnx`));
  writeFileSync(
    join(dir, `${MODELS[1]}.model.json`),
    JSON.stringify({ name: MODELS[1], version: '1.0.0', task: 'depth', weights: `${MODELS[1]}.onnx`, ...NULL_MODEL_INPUT }),
  );
  return dir;
}

/** A count whose reaching a value can be awaited (one waiter at a time). */
function countWithWaits() {
  let value = 0;
  let waiter: { count: number; resolve: () => void } | undefined;
  return {
    get value() {
      return value;
    },
    add() {
      value++;
      if (waiter && value >= waiter.count) waiter.resolve();
    },
    reached: (count: number) => new Promise<void>((resolve) => (value >= count ? resolve() : (waiter = { count, resolve }))),
  };
}

/**
 * Fathom on a real Redis Cluster of three masters (redis-server --cluster-enabled yes, made with
 * redis-cli --cluster create, AOF fsynced on every write): the API and a worker with
 * REDIS_CLUSTER=true, two models whose queues live in different slots.
 */
describe('Fathom on a three-master Redis Cluster', () => {
  let stack: FathomStack;
  let image: Buffer;

  beforeAll(async () => {
    stack = await FathomStack.start({ cluster: true });
    image = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    await stack.startApi({ ...LOAD_TEST_LIMITS_ENV, REDIS_COMMAND_TIMEOUT_MS: '1000' });
    // A run cut off by the restart is taken again within lock + interval, and never counted lost for it.
    await stack.startWorker({
      MODELS_DIR: twoModelsDir(),
      WORKER_BUILTIN_MODELS: 'false',
      ...stallPolicyEnv({ lockDurationMs: 2_000, stalledIntervalMs: 1_000, maxStalledCount: 10 }),
    });
  }, 60_000);
  afterAll(() => stack?.stop());

  it("puts each model's queue in a slot of its own", () => {
    const slots = MODELS.map((m) => clusterKeySlot(inferenceQueueName(m, '1.0.0')));
    expect(new Set(slots).size).toBe(MODELS.length);
  });

  it("runs Fathom's multi-key writes on the cluster: a rollout change (WATCH/MULTI with its log), every worker's beat (MGET)", async () => {
    const redis = createRedisConnection({ url: stack.redis.url, cluster: true, ...DEFAULT_REDIS_TIMEOUTS }, 'commands');
    try {
      const rollouts = new RolloutStore(redis, DEFAULT_KEY_PREFIX);
      for (const model of MODELS) {
        await rollouts.update(model, 'ops', 'set-alias', (state) => ({ ...state, aliases: { stable: '1.0.0' } }));
        expect(await rollouts.get(model)).toMatchObject({ aliases: { stable: '1.0.0' } });
        expect(await rollouts.log(model)).toHaveLength(1);
      }
      const alive = await new WorkerRegistry(redis, DEFAULT_KEY_PREFIX, 10_000, () => 0).liveWorkers();
      expect(alive.map((w) => w.models.map((m) => m.name).sort())).toEqual([[...MODELS]]);
    } finally {
      redis.disconnect();
    }
  });

  it('completes jobs on both models, with their events pushed on the socket', async () => {
    const socket = await stack.connect();
    const jobs = await Promise.all(
      MODELS.flatMap((model) => [1, 2, 3].map(async () => (await (await submit(stack.api, { image, model })).json()) as JobAccepted)),
    );
    const completions = jobs.map((job) => nextEvent(socket, 'job.completed', (e) => e.jobId === job.id, 20_000));
    for (const job of jobs) expect((await subscribe(socket, job.id)).ok).toBe(true);
    const events = await Promise.all(completions);
    expect(events.map((e) => e.jobId).sort()).toEqual(jobs.map((j) => j.id).sort());
    // Their prediction records crossed the cluster too (the stream and its drop counter share a slot) into PostgreSQL.
    const db = createDatabase({
      url: stack.database.url,
      poolSize: 1,
      statementTimeoutMs: 5_000,
      connectTimeoutMs: 2_000,
      applicationName: 'fathom-test',
    });
    try {
      const log = new PredictionStore(db);
      const deadline = Date.now() + 15_000;
      let logged: string[] = [];
      while (logged.length < jobs.length && Date.now() < deadline) {
        logged = (await log.page({ jobIds: jobs.map((j) => j.id), limit: 100 })).rows.map((row) => row.jobId);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(logged.sort()).toEqual(jobs.map((j) => j.id).sort());
    } finally {
      await db.destroy();
    }
  });

  it("loses no acknowledged job when the master of a queue's slot is SIGKILLed and restarted mid-run", async () => {
    const victim = await stack.cluster!.masterOf(clusterKeySlot(inferenceQueueName(MODELS[0], '1.0.0')));
    const accepted: string[] = [];
    const refusals = new Set<number>();
    const [acknowledged, refused] = [countWithWaits(), countWithWaits()];
    let submitting = true;
    // Two clients per model submitting one job after another until told to stop: some land while the master is down.
    const clients = MODELS.flatMap((model) =>
      [1, 2].map(async () => {
        while (submitting) {
          const response = await submit(stack.api, { image, model }).catch(() => null);
          if (response?.status === 202) {
            accepted.push(((await response.json()) as JobAccepted).id);
            acknowledged.add();
          } else {
            refusals.add(response?.status ?? 0);
            refused.add();
          }
        }
      }),
    );
    await acknowledged.reached(10);
    await victim.kill();
    // Down long enough for the API to refuse a submission that needs the dead master's slots.
    await refused.reached(1);
    await victim.start();
    await stack.cluster!.ready();
    await acknowledged.reached(acknowledged.value + 10);
    submitting = false;
    await Promise.all(clients);

    // A job whose end no socket heard is reported with the state the API reads for it.
    const ends = await Promise.all(
      accepted.map((id) =>
        stack.jobEnd(id, { timeoutMs: 20_000 }).catch(async (error: Error) => {
          const status = (await (await fetch(`${stack.api.url}/v1/jobs/${id}`)).json()) as JobStatus;
          return { ...status, id, state: `${status.state}, no end heard: ${error.message}` };
        }),
      ),
    );
    // On failure, what the worker logged (warnings and errors) says which consumer stopped and why.
    const workerTrouble = stack.workers[0]!.output()
      .split('\n')
      .filter((line) => /"level":"(warn|error)"/.test(line))
      .slice(-20);
    const notCompleted = ends.filter((s) => s.state !== 'completed').map((s) => [s.id, s.state]);
    expect(notCompleted.length === 0 ? [] : { notCompleted, workerTrouble }).toEqual([]);
    expect(ends).toHaveLength(accepted.length);
    // Refusals are 503 store_unavailable while the slot has no master: the client's to retry, never acknowledged.
    const errors = stack.api.process
      .output()
      .split('\n')
      .filter((line) => /"level":"error"|"statusCode":5\d\d|"status":500/.test(line) && !/"statusCode":503/.test(line));
    expect({ refusals: [...refusals], errors }).toEqual({ refusals: [503], errors: [] });
    console.log(`cluster restart: ${accepted.length} jobs acknowledged, all completed; ${refused.value} submissions refused meanwhile`);
  }, 60_000);
});
