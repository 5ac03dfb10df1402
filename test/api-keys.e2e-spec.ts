import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import sharp from 'sharp';
import { io } from 'socket.io-client';
import { JOBS_NAMESPACE, type JobAccepted } from '@fathom/contracts';
import { createTestDatabase, repoRoot, spawnNodeProcess, startRedisServer } from '@fathom/testing';
import { bearer, depthModelsDir, FathomStack, NULL_MODEL_INPUT, submit, subscribe, type ApiInstance } from './support/fathom-stack';

interface Key {
  id: string;
  key: string;
}
type ErrorReply = { error: { code: string; message: string } };

/**
 * API keys end to end, as an operator and two clients meet them: the first key from the CLI, the
 * others over REST; scopes; jobs that belong to the key that submitted them; revocation; the
 * audit log; and the API refusing to start where keys would be off or unusable.
 */
describe('API keys: who may call what, and whose jobs are whose', () => {
  let stack: FathomStack;
  let api: ApiInstance;
  let image: Buffer;
  let ops: Key;
  let alice: Key;
  let bob: Key;

  const call = (path: string, key: string | undefined, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    fetch(`${api.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { ...bearer(key), ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  const createOverRest = async (owner: string, scopes: string[]): Promise<Key> => {
    const response = await call('/v1/keys', ops.key, { method: 'POST', body: { owner, name: `${owner}'s app`, scopes } });
    expect(response.status).toBe(201);
    return (await response.json()) as Key;
  };
  const accept = async (key: string, headers: Record<string, string> = {}): Promise<JobAccepted> => {
    const response = await submit(api, { image, model: 'depth-test' }, { ...bearer(key), ...headers });
    expect(response.status).toBe(202);
    return (await response.json()) as JobAccepted;
  };

  beforeAll(async () => {
    stack = await FathomStack.start();
    // The operator's first key, straight into the database before the API runs.
    ops = await stack.createKey('ops', ['keys:admin', 'models:admin']);
    // Loopback, but keys on: the same checks a deployment gets. No cache, so a revocation holds at once.
    api = await stack.startApi({ HOST: '127.0.0.1', API_AUTH: 'keys', API_KEY_CACHE_MS: '0' });
    await stack.startWorker({ MODELS_DIR: depthModelsDir(undefined, 'depth-test', NULL_MODEL_INPUT), WORKER_BUILTIN_MODELS: 'false' });
    image = await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 90, g: 120, b: 200 } } })
      .png()
      .toBuffer();
  });
  afterAll(() => stack.stop());

  it('makes keys over REST with a keys:admin key: the secret is shown once, never listed', async () => {
    alice = await createOverRest('alice', ['jobs:write', 'jobs:read']);
    bob = await createOverRest('bob', ['jobs:write', 'jobs:read']);
    expect(alice.key).toMatch(new RegExp(`^fth_${alice.id}_[A-Za-z0-9_-]{43}$`));
    const listed = await (await call('/v1/keys', ops.key)).text();
    expect(JSON.parse(listed)).toMatchObject({
      keys: [{ owner: 'bob' }, { owner: 'alice' }, { owner: 'ops', createdBy: expect.stringMatching(/^cli:/) }],
    });
    for (const { key } of [ops, alice, bob]) expect(listed).not.toContain(key);
    expect(await (await call(`/v1/keys/${alice.id}`, ops.key)).json()).toMatchObject({
      id: alice.id,
      owner: 'alice',
      name: "alice's app",
      scopes: ['jobs:write', 'jobs:read'],
      createdBy: ops.id,
      revokedAt: null,
    });
    const unknown = await call('/v1/keys/nosuchkey', ops.key);
    expect([unknown.status, ((await unknown.json()) as ErrorReply).error.code]).toEqual([404, 'key_not_found']);
    const badScope = await call('/v1/keys', ops.key, { method: 'POST', body: { owner: 'eve', scopes: ['everything'] } });
    expect(badScope.status).toBe(400);
  });

  it('answers 401 without a valid key and 403 naming the scope a key lacks; health and the page need none', async () => {
    for (const key of [undefined, 'fth_not-a-key', `fth_${alice.id}_${'A'.repeat(43)}`]) {
      const response = await call('/v1/models', key);
      expect([key, response.status, ((await response.json()) as ErrorReply).error.code]).toEqual([key, 401, 'unauthorized']);
    }
    expect((await call('/v1/models', alice.key)).status).toBe(200);
    expect((await call('/v1/models', undefined, { headers: { 'x-api-key': alice.key } })).status).toBe(200);
    const notAdmin = await call('/v1/keys', alice.key);
    expect(notAdmin.status).toBe(403);
    expect(((await notAdmin.json()) as ErrorReply).error).toMatchObject({
      code: 'forbidden',
      message: expect.stringContaining('keys:admin'),
    });
    const cannotSubmit = await submit(api, { image, model: 'depth-test' }, bearer(ops.key));
    expect(cannotSubmit.status).toBe(403);
    expect(((await cannotSubmit.json()) as ErrorReply).error.message).toContain('jobs:write');
    expect((await call('/healthz', undefined)).status).toBe(200);
    expect((await call('/', undefined)).status).toBe(200);
  });

  it("answers another key's job as one that does not exist: status, result, cancel, socket", async () => {
    const job = await accept(alice.key);
    expect((await stack.jobEnd(job.id, { key: alice.key })).state).toBe('completed');
    expect((await call(`/v1/jobs/${job.id}/result`, alice.key)).status).toBe(200);

    const never = randomUUID();
    const notFound = async (response: Response, id: string) => [response.status, await response.json(), id];
    const unknownBody = (id: string) => [404, { error: { code: 'job_not_found', message: `No job with id "${id}".` } }, id];
    expect(await notFound(await call(`/v1/jobs/${never}`, bob.key), never)).toEqual(unknownBody(never));
    expect(await notFound(await call(`/v1/jobs/${job.id}`, bob.key), job.id)).toEqual(unknownBody(job.id));
    expect(await notFound(await call(`/v1/jobs/${job.id}/result`, bob.key), job.id)).toEqual(unknownBody(job.id));
    expect(await notFound(await call(`/v1/jobs/${job.id}`, bob.key, { method: 'DELETE' }), job.id)).toEqual(unknownBody(job.id));

    const bobsSocket = await stack.connect(api, bob.key);
    expect(await subscribe(bobsSocket, job.id)).toMatchObject({ ok: false, error: { code: 'job_not_found' } });
    const alicesSocket = await stack.connect(api, alice.key);
    expect(await subscribe(alicesSocket, job.id)).toMatchObject({ ok: true, status: { state: 'completed' } });
    // A key without jobs:read may connect, not subscribe.
    const opsSocket = await stack.connect(api, ops.key);
    expect(await subscribe(opsSocket, job.id)).toMatchObject({
      ok: false,
      error: { code: 'forbidden', message: expect.stringContaining('jobs:read') },
    });
  });

  it('refuses a socket without a valid key before it connects, with connect_error {code: unauthorized}', async () => {
    for (const auth of [undefined, { token: 'fth_nope' }]) {
      const socket = io(`${api.url}${JOBS_NAMESPACE}`, {
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
        ...(auth ? { auth } : {}),
      });
      const refusal = await new Promise<Error & { data?: unknown }>((resolve, reject) => {
        socket.once('connect', () => reject(new Error('connected without a key')));
        socket.once('connect_error', resolve);
      });
      socket.disconnect();
      expect(refusal.data).toMatchObject({ code: 'unauthorized' });
    }
  });

  it('keeps Idempotency-Keys per key: the same key string from two clients makes two jobs', async () => {
    const first = await accept(alice.key, { 'Idempotency-Key': 'order-42' });
    const again = await accept(alice.key, { 'Idempotency-Key': 'order-42' });
    const bobs = await accept(bob.key, { 'Idempotency-Key': 'order-42' });
    expect(again.id).toBe(first.id);
    expect(bobs.id).not.toBe(first.id);
    expect((await call(`/v1/jobs/${bobs.id}`, bob.key)).status).toBe(200);
  });

  it("logs the key's id, never its secret, on the request, the job's acceptance and the worker's job lines", async () => {
    const job = await accept(alice.key);
    await stack.jobEnd(job.id, { key: alice.key });
    const apiLines = api.process.output().split('\n');
    const accepted = apiLines.find((line) => line.includes('"job accepted"') && line.includes(job.id));
    expect(accepted?.match(/"keyId":"[^"]*"/g)).toEqual([`"keyId":"${alice.id}"`]);
    expect(apiLines.some((line) => line.includes('"request completed"') && line.includes(`"keyId":"${alice.id}"`))).toBe(true);
    const workerLines = stack.workers[0]!.output()
      .split('\n')
      .filter((line) => line.includes(job.id));
    expect(workerLines.length).toBeGreaterThan(0);
    expect(workerLines.every((line) => line.includes(`"keyId":"${alice.id}"`))).toBe(true);
    const everything = [api.process.output(), stack.workers[0]!.output()].join('\n');
    for (const { key, id } of [ops, alice, bob]) expect(everything).not.toContain(key.slice('fth_'.length + id.length + 1));
  });

  it('refuses a revoked key at once here (API_KEY_CACHE_MS=0), whether revoked over REST or with the CLI', async () => {
    const revoked = await call(`/v1/keys/${bob.id}`, ops.key, { method: 'DELETE' });
    expect(await revoked.json()).toMatchObject({ id: bob.id, revokedBy: ops.id, revokedAt: expect.any(String) });
    expect((await call('/v1/models', bob.key)).status).toBe(401);
    const cli = await stack.keysCli(['revoke', alice.id]);
    expect(cli.code).toBe(0);
    expect((await call('/v1/models', alice.key)).status).toBe(401);
    const listed = await stack.keysCli(['list']);
    expect(listed.stdout.split('\n').filter((line) => line.includes('REVOKED'))).toHaveLength(2);
    // The CLI says what is wrong: a scope it does not know (a usage error, 2), a key that does not exist (1).
    expect(await stack.keysCli(['create', '--owner', 'eve', '--scopes', 'jobs:write,everything'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown scope everything'),
    });
    expect(await stack.keysCli(['revoke', 'nosuchkey'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('No API key has the id "nosuchkey"'),
    });
  });

  it('lists what happened in the audit log, newest first, a page at a time', async () => {
    expect((await call('/v1/admin/models/depth-test/aliases/stable', ops.key, { method: 'PUT', body: { version: '1.0.0' } })).status).toBe(
      200,
    );
    const page = (await (await call('/v1/audit?limit=3', ops.key)).json()) as {
      entries: Array<{ actor: string; action: string; targetId: string }>;
      next: string;
    };
    expect(page.entries.map((e) => [e.action, e.actor, e.targetId])).toEqual([
      ['rollout.set-alias', ops.id, 'depth-test'],
      ['key.revoked', expect.stringMatching(/^cli:/), alice.id],
      ['key.revoked', ops.id, bob.id],
    ]);
    const rest = (await (await call(`/v1/audit?limit=10&before=${page.next}`, ops.key)).json()) as typeof page;
    expect(rest.entries.map((e) => [e.action, e.actor, e.targetId])).toEqual([
      ['key.created', ops.id, bob.id],
      ['key.created', ops.id, alice.id],
      ['key.created', expect.stringMatching(/^cli:/), ops.id],
    ]);
    expect(rest.next).toBeNull();
  });
});

describe('the API refuses to start where keys would be off or unusable', () => {
  const startApi = (env: Record<string, string>) =>
    spawnNodeProcess(join(repoRoot(), 'dist/apps/api/src/main.js'), {
      REDIS_URL: 'redis://127.0.0.1:1',
      PORT: '0',
      API_METRICS_PORT: '0',
      ...env,
    });

  it('refuses API_AUTH=none on an address other machines reach, in one line', async () => {
    const api = startApi({ HOST: '0.0.0.0', API_AUTH: 'none', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
    expect((await api.waitForExit(30_000)).code).toBe(1);
    expect(api.output()).toMatch(/API_AUTH: none .* allowed only on a loopback HOST .*not 0\.0\.0\.0: set API_AUTH=keys/);
  });

  it('refuses API_AUTH=keys with no key in the database, saying how to create the first one', async () => {
    const [database, redis] = await Promise.all([createTestDatabase(), startRedisServer()]);
    try {
      const api = startApi({ HOST: '0.0.0.0', DATABASE_URL: database.url, REDIS_URL: redis.url });
      expect((await api.waitForExit(30_000)).code).toBe(1);
      const lines = api.output().trim().split('\n');
      expect(lines.at(-1)).toMatch(/API_AUTH=keys, but the database has no active API key.*npm run keys -- create --owner/);
    } finally {
      await Promise.all([database.drop(), redis.stop()]);
    }
  });
});
