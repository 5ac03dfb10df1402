import { request } from 'node:http';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { errorBodySchema, type ErrorBody, type JobAccepted } from '@fathom/contracts';
import { redisKeys } from '@fathom/queue';
import { parseExposition } from './support/prometheus-exposition';
import { depthModelsDir, FathomStack, NULL_MODEL_INPUT, submit, type ApiInstance } from './support/fathom-stack';

const MODEL = 'depth-test';

async function errorOf(response: Response): Promise<ErrorBody['error']> {
  return errorBodySchema.parse(await response.json()).error;
}

/** The API's count of requests refused by the limits, for one reason, from its /metrics. */
async function limitedCount(api: ApiInstance, reason: 'rate_limited' | 'quota_exceeded'): Promise<number | undefined> {
  const { samples } = parseExposition(await (await fetch(api.metricsUrl)).text());
  return samples.find((s) => s.name === 'fathom_requests_limited_total' && s.labels.reason === reason)?.value;
}

/** Sends `count` requests at once (the limit counts per second: together they fall in one window). */
function burst(count: number, send: (i: number) => Promise<Response>): Promise<Response[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => send(i)));
}

/** Fails with `what` when `promise` has not settled within `ms`, so a stuck step names itself. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const statuses = (responses: Response[]) => responses.map((r) => r.status).sort();

/**
 * An upload's headers and a body that is never sent: resolves with the answer's status and headers
 * if the API answers from the headers alone (a reader of the body would wait for it until the
 * request timeout, longer than the test's).
 */
function uploadHeadersOnly(api: ApiInstance): Promise<{ status: number; headers: Record<string, unknown> }> {
  const { hostname, port } = new URL(api.url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: hostname,
      port: Number(port),
      method: 'POST',
      path: '/v1/jobs',
      headers: { 'Content-Type': 'multipart/form-data; boundary=b', 'Content-Length': '1000000' },
    });
    req.once('response', (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0, headers: response.headers });
      req.destroy();
    });
    req.once('error', reject);
    req.flushHeaders();
  });
}

describe('requests per second, per key (per address without keys), shared by every API instance', () => {
  let stack: FathomStack;

  beforeAll(async () => {
    stack = await FathomStack.start();
  });
  afterAll(() => stack.stop());

  it('answers the request over the limit 429 rate_limited, with Retry-After and the limit headers, in the documented shape', async () => {
    // Each scenario counts under a prefix of its own: the counts of one never spill into the next.
    const api = await stack.startApi({ REDIS_PREFIX: 'rate-one', API_KEY_REQUESTS_PER_SECOND: '3' });
    const answers = await burst(4, () => fetch(`${api.url}/v1/models`));
    expect(statuses(answers)).toEqual([200, 200, 200, 429]);

    const allowed = answers.find((r) => r.status === 200)!;
    expect(allowed.headers.get('x-ratelimit-limit')).toBe('3');
    const refused = answers.find((r) => r.status === 429)!;
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('x-ratelimit-limit')).toBe('3');
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    const error = await errorOf(refused);
    expect(error.code).toBe('rate_limited');
    expect(error.message).toMatch(/Retry-After/);
    expect(await limitedCount(api, 'rate_limited')).toBe(1);
  });

  it('refuses a limited upload from its headers alone, its body never sent', async () => {
    const api = await stack.startApi({ REDIS_PREFIX: 'rate-upload', API_KEY_REQUESTS_PER_SECOND: '2' });
    expect(statuses(await burst(2, () => fetch(`${api.url}/v1/models`)))).toEqual([200, 200]);
    const refused = await uploadHeadersOnly(api);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
  });

  it('shares one count between two API instances on the same Redis', async () => {
    const env = { REDIS_PREFIX: 'rate-shared', API_KEY_REQUESTS_PER_SECOND: '4' };
    const [a, b] = await Promise.all([stack.startApi(env), stack.startApi(env)]);
    // Each instance alone would allow 4: together they allow 4.
    const answers = await burst(5, (i) => fetch(`${(i % 2 ? b : a).url}/v1/models`));
    expect(statuses(answers)).toEqual([200, 200, 200, 200, 429]);
    expect(await errorOf(answers.find((r) => r.status === 429)!)).toMatchObject({ code: 'rate_limited' });
  });

  it('never limits the health checks, the web page or the docs', async () => {
    const api = await stack.startApi({ REDIS_PREFIX: 'rate-health', API_KEY_REQUESTS_PER_SECOND: '1' });
    const paths = ['/healthz', '/readyz', '/', '/docs/openapi.json'];
    const answers = await burst(40, (i) => fetch(`${api.url}${paths[i % paths.length]!}`));
    expect(answers.map((r) => r.status).filter((s) => s === 429)).toEqual([]);
    expect(answers.every((r) => r.headers.get('x-ratelimit-limit') === null)).toBe(true);
    // The limited routes still are, at 1 a second.
    expect(statuses(await burst(2, () => fetch(`${api.url}/v1/models`)))).toEqual([200, 429]);
  });
});

describe('jobs in flight, per key (all local callers together without keys), shared through Redis', () => {
  let stack: FathomStack;
  let image: Buffer;

  beforeAll(async () => {
    stack = await FathomStack.start();
    image = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
  });
  afterAll(() => stack.stop());

  it('refuses the submission past the quota 429 quota_exceeded with Retry-After; a cancelled job frees its place at once', async () => {
    // The worker announces its model, then stops (SIGSTOP) before taking any job: the model stays
    // served (its heartbeat counts for a long TTL here) and every job stays queued.
    const api = await stack.startApi({
      REDIS_PREFIX: 'quota-cancel',
      API_KEY_JOBS_IN_FLIGHT: '2',
      API_RETRY_AFTER_SECONDS: '7',
      WORKER_HEARTBEAT_TTL_MS: '600000',
    });
    const worker = await stack.startWorker({
      REDIS_PREFIX: 'quota-cancel',
      MODELS_DIR: depthModelsDir(),
      WORKER_BUILTIN_MODELS: 'false',
      WORKER_HEARTBEAT_TTL_MS: '600000',
    });
    worker.kill('SIGSTOP');

    const first = await submit(api, { image, model: MODEL });
    const second = await submit(api, { image, model: MODEL });
    expect([first.status, second.status]).toEqual([202, 202]);
    const refused = await submit(api, { image, model: MODEL });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('7');
    const error = await errorOf(refused);
    expect(error).toMatchObject({ code: 'quota_exceeded', details: { inFlight: 2, limit: 2 } });
    expect(error.message).toMatch(/cancel/);
    expect(await limitedCount(api, 'quota_exceeded')).toBe(1);

    const { id } = (await first.json()) as JobAccepted;
    expect((await fetch(`${api.url}/v1/jobs/${id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await submit(api, { image, model: MODEL })).status).toBe(202);
    expect((await submit(api, { image, model: MODEL })).status).toBe(429);
  });

  it("gives a job's place back when a worker ends it: the next submission is accepted", async () => {
    const prefix = 'quota-end';
    const api = await stack.startApi({ REDIS_PREFIX: prefix, API_KEY_JOBS_IN_FLIGHT: '1' });
    await stack.startWorker({
      REDIS_PREFIX: prefix,
      MODELS_DIR: depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT),
      WORKER_BUILTIN_MODELS: 'false',
    });
    // The worker gives the place back after the job's end is recorded (and heard): wait for that write, not a time.
    const redis = new Redis(stack.redis.url);
    const events = new Redis(stack.redis.url);
    try {
      await redis.config('SET', 'notify-keyspace-events', 'Kg');
      const key = redisKeys(prefix).inFlight('local');
      const emptied = new Promise<void>((resolve) => events.on('message', (_channel, event) => event === 'del' && resolve()));
      await events.subscribe(`__keyspace@0__:${key}`);

      const first = await submit(api, { image, model: MODEL });
      expect(first.status).toBe(202);
      const { id } = (await first.json()) as JobAccepted;
      expect((await stack.jobEnd(id, { api, timeoutMs: 20_000 })).state).toBe('completed');
      await within(emptied, 20_000, `the worker giving back job ${id}'s place`).catch(async (error: Error) => {
        throw new Error(`${error.message}; ${key} holds ${JSON.stringify(await redis.zrange(key, 0, -1))}`, { cause: error });
      });
      const next = await submit(api, { image, model: MODEL });
      expect(next.status).toBe(202);
      expect((await stack.jobEnd(((await next.json()) as JobAccepted).id, { api, timeoutMs: 20_000 })).state).toBe('completed');
    } finally {
      redis.disconnect();
      events.disconnect();
    }
  });
});
