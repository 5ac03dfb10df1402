import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { JobAccepted, ModelListing, RolloutChange } from '@fathom/contracts';
import { buildDepthStandInModel } from '@fathom/testing';
import { bearer, FathomStack, LOAD_TEST_LIMITS_ENV, submit, type ApiInstance } from './support/fathom-stack';

/**
 * A depth model in three versions: 1.0.0 and 1.1.0 served (1.1.0 with an `inverted` fine-tune),
 * 2.0.0 declared by URL but never pulled. Inputs are resized to 28×28 so 2,000 jobs cost little.
 */
function depthVersionsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-rollout-'));
  writeFileSync(join(dir, 'base.onnx'), buildDepthStandInModel());
  writeFileSync(join(dir, 'inverted.onnx'), buildDepthStandInModel({ inverted: true }));
  const manifest = (version: string, extra: string) =>
    [`name: depth`, `version: ${version}`, 'task: depth', 'input: { resize: { mode: fixed, width: 28, height: 28 } }', extra].join('\n');
  writeFileSync(join(dir, 'depth-1.0.0.model.yaml'), manifest('1.0.0', 'weights: base.onnx'));
  writeFileSync(
    join(dir, 'depth-1.1.0.model.yaml'),
    manifest('1.1.0', 'weights: base.onnx\nvariants:\n  inverted: { weights: inverted.onnx, description: near is dark }'),
  );
  writeFileSync(
    join(dir, 'depth-2.0.0.model.yaml'),
    manifest('2.0.0', `weights: { url: "http://127.0.0.1:9/never-pulled.onnx", sha256: "${'0'.repeat(64)}" }`),
  );
  return dir;
}

describe('versions and rollout: aliases, a canary split, pins, variants, promote and rollback', () => {
  let stack: FathomStack;
  let api: ApiInstance;
  let image: Buffer;
  // API keys, made with the CLI before the APIs start: ops may roll out and submit, ci may only roll out.
  let ops: { id: string; key: string };
  let ci: { id: string; key: string };

  const admin = (path: string, method = 'GET', body?: unknown, authorization = `Bearer ${ops.key}`) =>
    fetch(`${api.url}/v1/admin/models/depth${path}`, {
      method,
      headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const accept = async (form: { model: string; variant?: string }, through = api): Promise<JobAccepted> => {
    const response = await submit(through, { image, ...form }, bearer(ops.key));
    expect(response.status).toBe(202);
    return (await response.json()) as JobAccepted;
  };
  const errorOf = async (form: { model: string; variant?: string }) => {
    const response = await submit(api, { image, ...form }, bearer(ops.key));
    return { status: response.status, ...((await response.json()) as { error: { code: string; message: string } }).error };
  };

  beforeAll(async () => {
    stack = await FathomStack.start();
    ops = await stack.createKey('ops', ['models:admin', 'jobs:write', 'jobs:read']);
    ci = await stack.createKey('ci', ['models:admin']);
    // 2,000 jobs from one key as fast as the API takes them: past the default per-key limits.
    const env = { ...LOAD_TEST_LIMITS_ENV, API_AUTH: 'keys', API_MAX_QUEUE_DEPTH: '5000' };
    api = await stack.startApi(env);
    await stack.startApi(env);
    await stack.startWorker({ MODELS_DIR: depthVersionsDir(), WORKER_BUILTIN_MODELS: 'false', WORKER_CONCURRENCY: '8' });
    // Left half dark, right half bright: the base model says the right is near, the fine-tune the left.
    const pixels = Buffer.alloc(40 * 20 * 3);
    for (let i = 0; i < 40 * 20; i++) pixels.fill(i % 40 < 20 ? 30 : 220, i * 3, i * 3 + 3);
    image = await sharp(pixels, { raw: { width: 40, height: 20, channels: 3 } })
      .png()
      .toBuffer();
  });
  afterAll(() => stack.stop());

  it('lists every version with how many workers serve it, its variants, and where the aliases point', async () => {
    const { models } = (await (await fetch(`${api.url}/v1/models`, { headers: bearer(ops.key) })).json()) as { models: ModelListing[] };
    const depth = models.find((m) => m.name === 'depth')!;
    // No rollout yet: stable is the newest declared release, served or not (so unpinned traffic fails until an operator acts).
    expect(depth.aliases).toEqual({ stable: '2.0.0', canary: null });
    expect(depth.versions).toEqual([
      expect.objectContaining({ version: '2.0.0', workers: 0, aliases: ['stable'], variants: [] }),
      expect.objectContaining({
        version: '1.1.0',
        workers: 1,
        aliases: [],
        variants: [{ name: 'inverted', description: 'near is dark', workers: 1 }],
      }),
      expect.objectContaining({ version: '1.0.0', workers: 1, variants: [] }),
    ]);
  });

  it('refuses the admin API without a valid key, as JSON', async () => {
    for (const authorization of ['', 'Bearer wrong-key-0123456789abcdef']) {
      const response = await admin('', 'GET', undefined, authorization);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
    // ci may roll out, not submit: 403, naming the scope it lacks.
    const notAllowed = await submit(api, { image, model: 'depth' }, bearer(ci.key));
    expect(notAllowed.status).toBe(403);
    expect(((await notAllowed.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'forbidden',
      message: expect.stringContaining('jobs:write'),
    });
    const badWeights = await admin('/weights', 'PUT', { stable: 90, canary: 20 });
    expect(badWeights.status).toBe(400);
    const noCanaryYet = await admin('/weights', 'PUT', { stable: 90, canary: 10 });
    expect(noCanaryYet.status).toBe(409);
    expect(((await noCanaryYet.json()) as { error: { code: string } }).error.code).toBe('rollout_conflict');
  });

  it('splits unpinned traffic 90/10 between stable and canary: over 2,000 jobs within ±3 points, recorded on each job and in the metrics', async () => {
    expect(await errorOf({ model: 'depth' })).toMatchObject({
      status: 422,
      code: 'model_not_served',
      message: expect.stringContaining('(stable: 2.0.0)'),
    });
    expect((await admin('/aliases/stable', 'PUT', { version: '1.0.0' })).status).toBe(200);
    expect((await admin('/aliases/canary', 'PUT', { version: '1.1.0' })).status).toBe(200);
    expect((await admin('/weights', 'PUT', { stable: 90, canary: 10 })).status).toBe(200);

    const routed: JobAccepted[] = [];
    for (let batch = 0; batch < 2000 / 25; batch++)
      routed.push(...(await Promise.all(Array.from({ length: 25 }, () => accept({ model: 'depth' })))));
    const canary = routed.filter((job) => job.model.route === 'canary');
    const share = (100 * canary.length) / routed.length;
    console.log(`canary split over ${routed.length} jobs: ${share.toFixed(1)}% canary (target 10)`);
    expect(Math.abs(share - 10)).toBeLessThanOrEqual(3);
    expect(canary.every((job) => job.model.version === '1.1.0')).toBe(true);
    expect(routed.filter((job) => job.model.route === 'stable').every((job) => job.model.version === '1.0.0')).toBe(true);

    // The worker runs what the job says; the status says which version ran and why.
    const sample = await stack.jobEnd(canary[0]!.id, { api, key: ops.key });
    expect(sample.model).toMatchObject({ name: 'depth', version: '1.1.0', route: 'canary' });
    const metrics = await (await fetch(api.metricsUrl)).text();
    expect(metrics).toContain(
      `fathom_jobs_submitted_total{model="depth",version="1.1.0",variant="",task="depth",route="canary"} ${canary.length}`,
    );
  });

  it('pins a version, an alias or a variant, and answers 422 at once for what no worker serves', async () => {
    expect((await accept({ model: 'depth@1.1.0' })).model).toMatchObject({ version: '1.1.0', route: 'pinned' });
    expect((await accept({ model: 'depth@stable' })).model).toMatchObject({ version: '1.0.0', route: 'stable' });
    expect((await accept({ model: 'depth@canary' })).model).toMatchObject({ version: '1.1.0', route: 'canary' });

    const base = await accept({ model: 'depth@1.1.0' });
    const fineTune = await accept({ model: 'depth@1.1.0', variant: 'inverted' });
    expect(fineTune.model).toMatchObject({ version: '1.1.0', variant: 'inverted' });
    const nearSide = async (job: JobAccepted) => {
      expect((await stack.jobEnd(job.id, { api, key: ops.key })).model.variant).toBe(job.model.variant);
      const png = Buffer.from(await (await fetch(`${api.url}/v1/jobs/${job.id}/result`, { headers: bearer(ops.key) })).arrayBuffer());
      const { data } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      return data[10 * 40 + 5]! > data[10 * 40 + 35]! ? 'left' : 'right';
    };
    expect([await nearSide(base), await nearSide(fineTune)]).toEqual(['right', 'left']);

    expect(await errorOf({ model: 'depth@2.0.0' })).toMatchObject({
      status: 422,
      code: 'model_not_served',
      message: expect.stringContaining('No worker serves depth@2.0.0 now'),
    });
    expect(await errorOf({ model: 'depth@9.9.9' })).toMatchObject({
      status: 422,
      code: 'model_not_served',
      message: expect.stringContaining('no version "9.9.9"'),
    });
    expect(await errorOf({ model: 'depth@1.0.0', variant: 'inverted' })).toMatchObject({ status: 422, code: 'model_not_served' });
    expect(await errorOf({ model: 'nope' })).toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('promotes the canary and rolls back, effective at once on every API instance, each change logged with its key', async () => {
    const other = stack.apis[1]!;
    const promoted = (await (await admin('/promote', 'POST')).json()) as RolloutChange;
    // History: 2.0.0 was stable by default before the first move, then 1.0.0.
    expect(promoted.after).toEqual({ aliases: { stable: '1.1.0' }, weights: { stable: 100, canary: 0 }, history: ['2.0.0', '1.0.0'] });
    const afterPromote = await Promise.all(Array.from({ length: 20 }, () => accept({ model: 'depth' }, other)));
    expect(new Set(afterPromote.map((job) => `${job.model.version} ${job.model.route}`))).toEqual(new Set(['1.1.0 stable']));

    const rolledBack = await admin('/rollback', 'POST', undefined, `Bearer ${ci.key}`);
    expect(rolledBack.status).toBe(200);
    const afterRollback = await Promise.all(Array.from({ length: 20 }, () => accept({ model: 'depth' }, other)));
    expect(new Set(afterRollback.map((job) => job.model.version))).toEqual(new Set(['1.0.0']));

    const state = (await (await admin('')).json()) as { aliases: object; log: RolloutChange[] };
    expect(state.aliases).toEqual({ stable: '1.0.0', canary: null });
    expect(state.log.map((entry) => [entry.action, entry.keyId])).toEqual([
      ['rollback', ci.id],
      ['promote', ops.id],
      ['set-weights', ops.id],
      ['set-alias', ops.id],
      ['set-alias', ops.id],
    ]);
    expect(state.log.every((entry) => !Number.isNaN(Date.parse(entry.at)))).toBe(true);
    // …and in the API's log, with the time and the key id, never the key itself.
    const logged = api.process
      .output()
      .split('\n')
      .filter((line) => line.includes('"rollout changed"'));
    expect(logged.some((line) => line.includes('"action":"promote"') && line.includes(`"keyId":"${ops.id}"`))).toBe(true);
    expect(logged.join('\n')).not.toContain(ops.key.slice('fth_'.length + ops.id.length + 1));

    // Rolling back further would make stable a version no worker serves: refused unless forced.
    const unserved = await admin('/rollback', 'POST');
    expect(unserved.status).toBe(409);
    expect(((await unserved.json()) as { error: { message: string } }).error.message).toMatch(/No worker serves depth@2\.0\.0/);
    expect(((await (await admin('/rollback?force=true', 'POST')).json()) as RolloutChange).after.aliases).toEqual({ stable: '2.0.0' });
    const exhausted = await admin('/rollback', 'POST');
    expect(exhausted.status).toBe(409);
    expect(((await exhausted.json()) as { error: { code: string } }).error.code).toBe('rollout_conflict');
  });

  it('gives a retry with the same Idempotency-Key its job back after the worker stopped, and queues new jobs for a version that served (scale to zero)', async () => {
    const first = await submit(api, { image, model: 'depth@1.1.0' }, { 'Idempotency-Key': 'retry-after-outage', ...bearer(ops.key) });
    expect(first.status).toBe(202);
    const worker = stack.workers[0]!;
    worker.kill('SIGTERM');
    await worker.waitForExit(30_000);
    const again = await submit(api, { image, model: 'depth@1.1.0' }, { 'Idempotency-Key': 'retry-after-outage', ...bearer(ops.key) });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as JobAccepted).id).toBe(((await first.json()) as JobAccepted).id);
    // Once the API's view of live workers (cached 0.5 s) has caught up and counts none for 1.1.0…
    const servingWorkers = async () => {
      const { models } = (await (await fetch(`${api.url}/v1/models`, { headers: bearer(ops.key) })).json()) as { models: ModelListing[] };
      return models.find((m) => m.name === 'depth')?.versions.find((v) => v.version === '1.1.0')?.workers;
    };
    const deadline = Date.now() + 5_000;
    let workers = await servingWorkers();
    while (workers !== 0 && Date.now() < deadline) workers = await servingWorkers();
    expect(workers).toBe(0);
    // …a new submission is not refused: depth@1.1.0 is a serving deployment (its worker served it),
    // so the job waits in its queue for the next worker, as a pool scaled to zero does (ADR 0015).
    const queued = await submit(api, { image, model: 'depth@1.1.0' }, bearer(ops.key));
    expect(queued.status).toBe(202);
    expect(((await queued.json()) as JobAccepted).state).toBe('queued');
    // A version no worker ever served stays refused.
    expect(await errorOf({ model: 'depth@2.0.0' })).toMatchObject({ status: 422, code: 'model_not_served' });
  });
});
