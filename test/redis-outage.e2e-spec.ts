import sharp from 'sharp';
import type { JobAccepted } from '@fathom/contracts';
import { selfSignedCertificate, type NodeProcess } from '@fathom/testing';
import { depthModelsDir, FathomStack, NULL_MODEL_INPUT, submit, type ApiInstance } from './support/fathom-stack';

/** Short enough that an outage several times longer stays a few seconds. */
const COMMAND_TIMEOUT_MS = 400;
const HEARTBEAT_TTL_MS = 1_500;
/**
 * The slowest a Redis-touching request may answer during an outage: it fails on its first Redis
 * command after the command timeout, and a submission then deletes what it stored (another
 * command timeout); two more for a loaded machine. (Before: a 15 s hang with SIGSTOP.)
 */
const ANSWER_BOUND_MS = 4 * COMMAND_TIMEOUT_MS;
const MODEL = 'depth-test';

const REDIS_ENV = {
  REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
  WORKER_HEARTBEAT_TTL_MS: String(HEARTBEAT_TTL_MS),
};

/** Resolves once `process` has printed `count` lines matching `pattern` (an event: its output). */
function linesPrinted(process: NodeProcess, pattern: RegExp, count: number, timeoutMs: number): Promise<void> {
  const matching = () =>
    process
      .output()
      .split('\n')
      .filter((line) => pattern.test(line)).length;
  return new Promise((resolve, reject) => {
    const streams = [process.child.stdout, process.child.stderr];
    const check = () => {
      if (matching() < count) return;
      finish();
      resolve();
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`fewer than ${count} lines matching ${pattern} within ${timeoutMs} ms:\n${process.output().slice(-3000)}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      for (const stream of streams) stream?.off('data', check);
    };
    for (const stream of streams) stream?.on('data', check);
    check();
  });
}

interface Answer {
  status: number;
  code?: string;
  retryAfter: string | null;
  ms: number;
}

async function timed(request: () => Promise<Response>): Promise<Answer> {
  const started = Date.now();
  const response = await request();
  const body = (await response.json().catch(() => ({}))) as { error?: { code?: string } };
  return { status: response.status, code: body.error?.code, retryAfter: response.headers.get('retry-after'), ms: Date.now() - started };
}

describe('Redis trouble: answers 503 store_unavailable fast, recovers at once, loses no accepted job', () => {
  let stack: FathomStack;
  let api: ApiInstance;
  let image: Buffer;

  beforeAll(async () => {
    stack = await FathomStack.start({ redis: { appendonly: true } });
    api = await stack.startApi(REDIS_ENV);
    const modelsDir = depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT);
    await stack.startWorker({ ...REDIS_ENV, MODELS_DIR: modelsDir, WORKER_BUILTIN_MODELS: 'false', WORKER_HEARTBEAT_MS: '300' });
    image = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#406080' } })
      .png()
      .toBuffer();
  });

  afterAll(() => stack.stop());

  const submitJob = () => timed(() => submit(api, { image, model: MODEL }));
  const accept = async () => {
    const response = await submit(api, { image, model: MODEL });
    expect(response.status).toBe(202);
    return (await response.json()) as JobAccepted;
  };

  /** Every Redis-touching route, as a client sees it during an outage. */
  async function duringOutage(jobId: string): Promise<Record<string, Answer>> {
    return {
      submit: await submitJob(),
      status: await timed(() => fetch(`${api.url}/v1/jobs/${jobId}`)),
      models: await timed(() => fetch(`${api.url}/v1/models`)),
      readyz: await timed(() => fetch(`${api.url}/readyz`)),
    };
  }

  /** Rounds of requests until the outage has lasted `ms`; paced (a killed Redis is refused in milliseconds), not waiting on anything. */
  async function throughoutOutage(jobId: string, since: number, ms: number): Promise<void> {
    do {
      expectStoreUnavailable(await duringOutage(jobId));
      await new Promise((resolve) => setTimeout(resolve, 100));
    } while (Date.now() - since < ms);
  }

  function expectStoreUnavailable(answers: Record<string, Answer>): void {
    if (process.env.SHOW_TIMINGS)
      console.log(
        JSON.stringify(Object.fromEntries(Object.entries(answers).map(([r, a]) => [r, `${a.status} ${a.code ?? ''} ${a.ms}ms`]))),
      );
    for (const [route, answer] of Object.entries(answers)) {
      expect({ route, status: answer.status }).toEqual({ route, status: 503 });
      expect(answer.ms).toBeLessThan(ANSWER_BOUND_MS);
      if (route === 'readyz') continue; // terminus' failure (the log says which check); 503 is what a load balancer reads
      expect({ route, code: answer.code, retryAfter: answer.retryAfter }).toEqual({ route, code: 'store_unavailable', retryAfter: '1' });
    }
  }

  it('Redis stopped (SIGSTOP) longer than the heartbeat TTL: every request 503 within the bound; SIGCONT: submissions work at once', async () => {
    const before = await accept();
    await stack.jobEnd(before.id);
    const outages = (p: NodeProcess) =>
      p
        .output()
        .split('\n')
        .filter((l) => l.includes('"msg":"redis unavailable"')).length;
    const apiOutagesBefore = outages(api.process);

    stack.redis.pause();
    const stoppedAt = Date.now();
    try {
      await throughoutOutage(before.id, stoppedAt, 2 * HEARTBEAT_TTL_MS);
    } finally {
      stack.redis.resume(); // even when an answer failed: the next story starts with Redis running
    }

    await linesPrinted(api.process, /"msg":"redis available again"/, apiOutagesBefore + 1, 10 * COMMAND_TIMEOUT_MS);
    // Not 422 model_not_served: the worker's last beat is older than the TTL, but Redis was not answering.
    const after = await accept();
    expect((await stack.jobEnd(after.id)).state).toBe('completed');
    expect((await fetch(`${api.url}/readyz`)).status).toBe(200);
    // One line for the outage, one for the recovery, however many requests and probes failed.
    expect(outages(api.process)).toBe(apiOutagesBefore + 1);
  });

  it('Redis killed and restarted on its AOF after more than the TTL: 503s meanwhile, jobs accepted before complete, new ones accepted at once', async () => {
    const worker = stack.workers[0]!;
    const count = (p: NodeProcess, msg: string) =>
      p
        .output()
        .split('\n')
        .filter((l) => l.includes(`"msg":"${msg}"`)).length;
    const recoveries = count(api.process, 'redis available again');
    const announced = count(worker, 'heartbeat: re-announcing after the Redis outage');
    // The worker is paused so that the jobs accepted now are still queued when Redis dies.
    worker.kill('SIGSTOP');
    const queued = [await accept(), await accept(), await accept()];

    await stack.redis.kill();
    const killedAt = Date.now();
    await throughoutOutage(queued[0]!.id, killedAt, 2 * HEARTBEAT_TTL_MS);

    await stack.redis.start();
    worker.kill('SIGCONT');
    await linesPrinted(api.process, /"msg":"redis available again"/, recoveries + 1, 10 * COMMAND_TIMEOUT_MS);
    // The worker re-announces itself as soon as it reaches Redis again, without waiting for its next beat.
    // (It was paused throughout: it finds its connection closed, then Redis back — one outage to it.)
    await linesPrinted(worker, /"msg":"heartbeat: re-announcing after the Redis outage"/, announced + 1, 10 * COMMAND_TIMEOUT_MS);
    const after = await accept();
    const ends = await Promise.all([...queued, after].map((job) => stack.jobEnd(job.id)));
    expect(ends.map((s) => s.state)).toEqual(['completed', 'completed', 'completed', 'completed']);
  });

  it('prints no unstructured ioredis error lines, in the API or the worker', () => {
    for (const process of [api.process, ...stack.workers]) {
      expect(process.output()).not.toContain('[ioredis] Unhandled error event');
      expect(process.output()).toMatch(/"msg":"redis unavailable"/);
    }
  });
});

describe('Redis with a password: AUTH works, and a wrong password is never printed', () => {
  const SECRET = 'correct-horse-battery';
  const WRONG = 'wrong-horse-battery';
  let stack: FathomStack;

  beforeAll(async () => {
    stack = await FathomStack.start({ redis: { password: SECRET } });
  });

  afterAll(() => stack.stop());

  it('serves with the right password', async () => {
    expect(stack.redis.url).toContain(SECRET);
    const api = await stack.startApi();
    await stack.startWorker({ MODELS_DIR: depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT), WORKER_BUILTIN_MODELS: 'false' });
    const response = await submit(api, {
      image: await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } })
        .png()
        .toBuffer(),
      model: MODEL,
    });
    expect(response.status).toBe(202);
    expect((await stack.jobEnd(((await response.json()) as JobAccepted).id)).state).toBe('completed');
  });

  it('with a wrong one, the worker stops and the API answers 503 store_unavailable; neither prints the password', async () => {
    const url = stack.redis.url.replace(SECRET, WRONG);
    const api = await stack.startApi({ REDIS_URL: url });
    const models = await fetch(`${api.url}/v1/models`);
    expect(models.status).toBe(503);
    expect(((await models.json()) as { error: { code: string } }).error.code).toBe('store_unavailable');

    const worker = stack.workers.length;
    await expect(
      stack.startWorker({ REDIS_URL: url, MODELS_DIR: depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT), WORKER_BUILTIN_MODELS: 'false' }),
    ).rejects.toThrow(/exited/);
    const crashed = stack.workers[worker]!;
    expect(crashed.output()).toMatch(/WRONGPASS|NOAUTH/);
    for (const process of [api.process, crashed]) {
      expect(process.output()).not.toContain(WRONG);
      expect(process.output()).not.toContain('[ioredis] Unhandled error event');
    }
  });

  it('a bad REDIS_URL stops the process naming the variable, without the password', async () => {
    const api = await stack.startApi({ REDIS_URL: `http://:${WRONG}@127.0.0.1:1` }).catch((error: Error) => error);
    expect(api).toBeInstanceOf(Error);
    const message = (api as Error).message;
    expect(message).toMatch(/REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(message).not.toContain(WRONG);
  });
});

describe('Redis over TLS (rediss://) with a private CA', () => {
  const tls = selfSignedCertificate();
  let stack: FathomStack;

  beforeAll(async () => {
    stack = await FathomStack.start({ redis: { tls } });
  });

  afterAll(() => stack.stop());

  it('the API and the worker reach a TLS-only redis-server, checking its certificate against REDIS_TLS_CA_FILE', async () => {
    expect(stack.redis.url).toMatch(/^rediss:\/\//);
    const env = { REDIS_TLS_CA_FILE: tls.caFile };
    const api = await stack.startApi(env);
    await stack.startWorker({ ...env, MODELS_DIR: depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT), WORKER_BUILTIN_MODELS: 'false' });
    const image = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#123' } })
      .png()
      .toBuffer();
    const response = await submit(api, { image, model: MODEL });
    expect(response.status).toBe(202);
    expect((await stack.jobEnd(((await response.json()) as JobAccepted).id)).state).toBe('completed');
  });
});
