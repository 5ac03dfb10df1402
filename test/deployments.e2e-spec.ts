import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { io, type Socket } from 'socket.io-client';
import {
  DEFAULT_KEY_PREFIX,
  DEPLOYMENTS_NAMESPACE,
  DeploymentWsEvent,
  type DeploymentView,
  type JobAccepted,
  type JobStatus,
  type WorkerHeartbeat,
} from '@fathom/contracts';
import { createDatabase, DeploymentStore } from '@fathom/database';
import { createRedisConnection, DeploymentMirror, WorkerRegistry, type RedisClient } from '@fathom/queue';
import { buildDepthStandInModel, hasShared, itWithShared, sharedPath } from '@fathom/testing';
import { bearer, FathomStack, submit, type ApiInstance } from './support/fathom-stack';

const DEEPLAB = ['models', 'segmentation', 'deeplabv3_mnv2_voc_257.onnx'];
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A depth manifest at a fixed 28×28 input (the stand-in model), as a REST registration sends it. */
const depthManifest = (name: string, version: string, extra: Record<string, unknown> = {}) => ({
  name,
  version,
  task: 'depth',
  description: `${name} ${version}`,
  input: { resize: { mode: 'fixed', width: 28, height: 28 } },
  ...extra,
});

/**
 * Deployments over REST (issue 13, ADR 0015), the API side with a real API process, PostgreSQL,
 * Redis and object store: registration with uploaded weights or by URL, the checks that fail a
 * broken upload with its reason, PUT, DELETE with and without draining, scale to zero, the audit.
 * Workers are stood in for by heartbeats written to the registry as a worker writes them: what
 * the API reads of a worker is its heartbeat.
 */
describe('deployments: register, follow, change and retire model versions over REST', () => {
  let stack: FathomStack;
  let api: ApiInstance;
  let ops: { id: string; key: string };
  let redis: RedisClient;
  let registry: WorkerRegistry;
  let mirror: DeploymentMirror;
  let socket: Socket;
  let image: Buffer;
  const model = buildDepthStandInModel();
  const states: DeploymentView[] = [];

  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${api.url}/v1/admin/models${path}`, { ...init, headers: { ...bearer(ops.key), ...(init.headers as object) } });
  const json = async <T>(response: Response) => (await response.json()) as T;
  const errorOf = async (response: Response) => ({
    status: response.status,
    ...(await json<{ error: { code: string; message: string } }>(response)).error,
  });

  /** POST a multipart registration: the manifest as YAML or JSON text, and weights files by field. */
  const registerForm = (manifest: object | string, files: Record<string, Buffer> = {}) => {
    const form = new FormData();
    form.append('manifest', typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
    for (const [field, bytes] of Object.entries(files)) form.append(field, new Blob([new Uint8Array(bytes)]), `${field}.onnx`);
    return admin('', { method: 'POST', body: form });
  };
  const registerJson = (manifest: object) =>
    admin('', { method: 'POST', body: JSON.stringify(manifest), headers: { 'content-type': 'application/json' } });

  /** The first `deployment.state` a socket client heard (or hears next) that matches. */
  const heard = (matches: (view: DeploymentView) => boolean, what: string, timeoutMs = 20_000) =>
    new Promise<DeploymentView>((resolve, reject) => {
      const seen = states.find(matches);
      if (seen) return resolve(seen);
      const timer = setTimeout(() => {
        socket.off(DeploymentWsEvent.State, listener);
        reject(new Error(`never heard ${what}; heard ${JSON.stringify(states.map((v) => `${v.name}@${v.version} ${v.state}`))}`));
      }, timeoutMs);
      const listener = (view: DeploymentView) => {
        if (!matches(view)) return;
        clearTimeout(timer);
        socket.off(DeploymentWsEvent.State, listener);
        resolve(view);
      };
      socket.on(DeploymentWsEvent.State, listener);
    });
  const reaches = (id: string, state: DeploymentView['state']) => heard((v) => v.id === id && v.state === state, `${id} ${state}`);

  /** A worker's heartbeat as the worker writes it, reporting what it did with deployments. */
  const beat = (workerId: string, deployments: WorkerHeartbeat['deployments'], models: WorkerHeartbeat['models'] = []) =>
    registry.heartbeat({ workerId, host: 'test', pid: 1, startedAt: Date.now(), models, labels: {}, deployments });

  beforeAll(async () => {
    stack = await FathomStack.start();
    ops = await stack.createKey('ops', ['models:admin', 'jobs:write', 'jobs:read']);
    api = await stack.startApi({ API_AUTH: 'keys', API_MAX_WEIGHTS_BYTES: String(4 * 1024 * 1024) });
    redis = createRedisConnection(stack.redis.url, 'commands');
    registry = new WorkerRegistry(redis, DEFAULT_KEY_PREFIX, 15_000);
    mirror = new DeploymentMirror(redis, DEFAULT_KEY_PREFIX);
    socket = io(`${api.url}${DEPLOYMENTS_NAMESPACE}`, { transports: ['websocket'], forceNew: true, auth: { token: ops.key } });
    socket.on(DeploymentWsEvent.State, (view: DeploymentView) => states.push(view));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    image = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 90, g: 120, b: 200 } } })
      .png()
      .toBuffer();
  });
  afterAll(async () => {
    socket?.close();
    await redis?.quit();
    await stack.stop();
  });

  itWithShared(
    DEEPLAB,
    'registers DeepLabV3 with its weights uploaded: 202 warming, stored once under their sha256, mirrored for workers',
    async (path) => {
      const weights = readFileSync(path);
      const labels = readFileSync(sharedPath('models', 'segmentation', 'deeplabv3_mnv2_voc_257.labels.txt'), 'utf8')
        .trim()
        .split('\n');
      const manifest = [
        'name: deeplabv3-mnv2-voc',
        'version: 1.0.0',
        'task: segmentation',
        'input: { name: sub_7, layout: NHWC, channels: RGB, resize: { mode: fixed, width: 257, height: 257 }, scaling: symmetric }',
        'output: { name: ResizeBilinear_3, layout: NHWC, kind: logits }',
        `labels: [${labels.join(', ')}]`,
        'defaults: { output: overlay, opacity: 0.5 }',
      ].join('\n');
      const response = await registerForm(manifest, { weights });
      expect(response.status).toBe(202);
      const view = await json<DeploymentView>(response);
      expect(response.headers.get('location')).toBe('/v1/admin/models/deeplabv3-mnv2-voc/1.0.0');
      expect(view).toMatchObject({
        name: 'deeplabv3-mnv2-voc',
        version: '1.0.0',
        task: 'segmentation',
        state: 'warming',
        source: 'upload',
        reason: null,
        weights: { '': { sha256: sha256(weights), bytes: weights.length } },
        createdBy: ops.id,
        links: { self: '/v1/admin/models/deeplabv3-mnv2-voc/1.0.0', events: '/deployments' },
      });
      expect((await stack.blobs.get(stack.blobs.weightsKey(sha256(weights))))?.equals(weights)).toBe(true);
      const entry = (await mirror.readAll()).find((d) => d.id === view.id);
      expect(entry).toMatchObject({
        state: 'warming',
        source: 'upload',
        weights: { '': { sha256: sha256(weights), bytes: weights.length } },
      });
      expect(entry?.manifest).toMatchObject({
        weights: { store: sha256(weights) },
        labels: expect.arrayContaining(['background', 'person']),
      });
      // Warming, no worker has served it: a submission is still refused.
      expect(await errorOf(await submit(api, { image, model: 'deeplabv3-mnv2-voc@1.0.0' }, bearer(ops.key)))).toMatchObject({
        status: 422,
        code: 'model_not_served',
      });
    },
  );

  it('refuses what REST registration does not take, naming the field and what to send instead', async () => {
    const path = await errorOf(await registerJson(depthManifest('depth-rest', '1.0.0', { weights: 'model.onnx' })));
    expect(path).toMatchObject({ status: 400, code: 'invalid_manifest', message: expect.stringContaining('multipart part "weights"') });
    const npm = await errorOf(await registerJson(depthManifest('depth-rest', '1.0.0', { weights: { npm: '@acme/models/depth.onnx' } })));
    expect(npm).toMatchObject({ status: 400, code: 'invalid_manifest', message: expect.stringContaining('{ url, sha256 }') });
    const labelsFile = await errorOf(
      await registerForm(depthManifest('depth-rest', '1.0.0', { labels: { file: 'labels.txt' } }), { weights: model }),
    );
    expect(labelsFile).toMatchObject({
      status: 400,
      code: 'invalid_manifest',
      message: expect.stringContaining('send the class names inline'),
    });
    const badField = await errorOf(await registerForm({ ...depthManifest('depth-rest', '1.0.0'), task: 'painting' }, { weights: model }));
    expect(badField).toMatchObject({ status: 400, code: 'invalid_manifest', message: expect.stringContaining('task:') });
    const urlWithoutSha = await errorOf(
      await registerJson(depthManifest('depth-rest', '1.0.0', { weights: { url: 'http://127.0.0.1:9/m.onnx' } })),
    );
    expect(urlWithoutSha).toMatchObject({
      status: 400,
      code: 'invalid_manifest',
      message: expect.stringContaining('weights.sha256: required with url'),
    });
    const missing = await errorOf(await registerForm(depthManifest('depth-rest', '1.0.0')));
    expect(missing).toMatchObject({ status: 400, code: 'missing_field', message: expect.stringContaining('"weights"') });
    const tooLarge = await errorOf(
      await registerForm(depthManifest('depth-rest', '1.0.0'), { weights: Buffer.alloc(4 * 1024 * 1024 + 1, 8) }),
    );
    expect(tooLarge).toMatchObject({ status: 413, code: 'weights_too_large', message: expect.stringContaining(String(4 * 1024 * 1024)) });
    expect(
      (await json<{ deployments: DeploymentView[] }>(await admin('?state=failed'))).deployments.filter((d) => d.name === 'depth-rest'),
    ).toEqual([]);
  });

  itWithShared(
    ['models', 'broken'],
    'fails a Git LFS pointer, an HTML page and a sha256 mismatch with the reason, storing nothing',
    async (dir) => {
      const pointer = readFileSync(`${dir}/git_lfs_pointer_depth_anything_v2_vits.onnx`);
      const lfs = await json<DeploymentView>(await registerForm(depthManifest('broken-lfs', '1.0.0'), { weights: pointer }));
      expect(lfs).toMatchObject({ state: 'failed', reason: expect.stringContaining('weights: this is a Git LFS pointer, not a model') });
      const page = readFileSync(`${dir}/html_page_saved_as_mobilenetv2-7.onnx`);
      const html = await json<DeploymentView>(await registerForm(depthManifest('broken-html', '1.0.0'), { weights: page }));
      expect(html).toMatchObject({ state: 'failed', reason: expect.stringContaining('this is an HTML page, not a model') });
      const wrong = 'ab'.repeat(32);
      const mismatch = await json<DeploymentView>(
        await registerForm(depthManifest('broken-sha', '1.0.0', { weights: { upload: 'weights', sha256: wrong } }), { weights: model }),
      );
      expect(mismatch).toMatchObject({
        state: 'failed',
        reason: `weights: sha256 mismatch: expected ${wrong}, got ${sha256(model)} for ${model.length} bytes`,
      });
      for (const bytes of [pointer, page]) expect(await stack.blobs.get(stack.blobs.weightsKey(sha256(bytes)))).toBeNull();
      // A failed name@version may be registered again.
      const again = await registerForm(depthManifest('broken-sha', '1.0.0'), { weights: model });
      expect(await json<DeploymentView>(again)).toMatchObject({ state: 'warming' });
    },
  );

  it('takes a variant’s weights in its own part, and mirrors each under its sha256', async () => {
    const inverted = buildDepthStandInModel({ inverted: true });
    const response = await registerForm(
      depthManifest('depth-variants', '1.0.0', { variants: { inverted: { description: 'near is dark' } } }),
      { weights: model, 'weights.inverted': inverted },
    );
    const view = await json<DeploymentView>(response);
    expect(view).toMatchObject({
      state: 'warming',
      weights: { '': { sha256: sha256(model), bytes: model.length }, inverted: { sha256: sha256(inverted), bytes: inverted.length } },
    });
    expect((await stack.blobs.get(stack.blobs.weightsKey(sha256(inverted))))?.equals(inverted)).toBe(true);
    const entry = (await mirror.readAll()).find((d) => d.id === view.id)!;
    expect(entry.manifest).toMatchObject({
      weights: { store: sha256(model) },
      variants: { inverted: { weights: { store: sha256(inverted) } } },
    });
    const stray = await registerForm(depthManifest('depth-variants', '2.0.0'), { weights: model, 'weights.mirrored': inverted });
    expect(await errorOf(stray)).toMatchObject({
      status: 400,
      code: 'invalid_request',
      message: expect.stringContaining('"weights.mirrored"'),
    });
  });

  describe('weights by URL', () => {
    let server: Server;
    let base: string;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let releaseSecond: () => void = () => undefined;
    const heldSecond = new Promise<void>((resolve) => (releaseSecond = resolve));
    const requests: string[] = [];
    let secondDownload: () => void = () => undefined;
    const secondDownloadStarted = new Promise<void>((resolve) => (secondDownload = resolve));

    beforeAll(async () => {
      server = createServer((request, response) => {
        requests.push(request.url ?? '');
        if (request.url === '/held-second/model.onnx') {
          if (requests.filter((url) => url === request.url).length === 2) secondDownload();
          void heldSecond.then(() => response.end(model));
        } else if (request.url === '/held/model.onnx') {
          void held.then(() => response.end(model));
        } else if (request.url === '/model.onnx') {
          response.end(model);
        } else {
          response.writeHead(404).end('not here');
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('pulls the weights in the background: pulling, then warming with them stored', async () => {
      const response = await registerJson(
        depthManifest('depth-url', '1.0.0', { weights: { url: `${base}/held/model.onnx`, sha256: sha256(model) } }),
      );
      expect(response.status).toBe(202);
      const accepted = await json<DeploymentView>(response);
      expect(accepted).toMatchObject({ source: 'url', weights: { '': { url: `${base}/held/model.onnx`, sha256: sha256(model) } } });
      const pulling = await reaches(accepted.id, 'pulling');
      expect(pulling.weights['']?.bytes).toBe(0);
      expect((await json<DeploymentView>(await admin('/depth-url/1.0.0'))).state).toBe('pulling');
      release();
      const warming = await reaches(accepted.id, 'warming');
      expect(warming.weights['']).toEqual({ url: `${base}/held/model.onnx`, sha256: sha256(model), bytes: model.length });
      expect((await stack.blobs.get(stack.blobs.weightsKey(sha256(model))))?.equals(model)).toBe(true);
    });

    it('fails a URL that answers 404, and one whose bytes are not the sha256 given, saying which', async () => {
      // As YAML, the other body a manifest may come in.
      const yaml = [
        'name: depth-gone',
        'version: 1.0.0',
        'task: depth',
        `weights: { url: "${base}/nope.onnx", sha256: "${sha256(model)}" }`,
      ].join('\n');
      const gone = await json<DeploymentView>(
        await admin('', { method: 'POST', body: yaml, headers: { 'content-type': 'application/yaml' } }),
      );
      expect((await reaches(gone.id, 'failed')).reason).toBe(`weights: ${base}/nope.onnx: HTTP 404 Not Found`);
      const other = 'cd'.repeat(32);
      const wrong = await json<DeploymentView>(
        await registerJson(depthManifest('depth-wrong', '1.0.0', { weights: { url: `${base}/model.onnx`, sha256: other } })),
      );
      expect((await reaches(wrong.id, 'failed')).reason).toContain(`sha256 mismatch: expected ${other}, got ${sha256(model)}`);
    });
    it('resumes a pull on another instance when the one that took it stops, and rebuilds the mirror from PostgreSQL at start', async () => {
      const env = { API_AUTH: 'keys' };
      const taker = await stack.startApi(env);
      const manifest = depthManifest('depth-resumed', '1.0.0', {
        weights: { url: `${base}/held-second/model.onnx`, sha256: sha256(model) },
      });
      const accepted = await json<DeploymentView>(
        await fetch(`${taker.url}/v1/admin/models`, {
          method: 'POST',
          body: JSON.stringify(manifest),
          headers: { ...bearer(ops.key), 'content-type': 'application/json' },
        }),
      );
      // Heard on a socket of another instance: its reconciler sees every change.
      await reaches(accepted.id, 'pulling');
      taker.process.kill('SIGTERM');
      await taker.process.waitForExit(30_000);
      // The instance left mid-download; another takes the pull over (a second request for the file).
      await secondDownloadStarted;
      releaseSecond();
      const warming = await reaches(accepted.id, 'warming');
      expect(warming.weights['']).toMatchObject({ bytes: model.length });
      expect(requests.filter((url) => url === '/held-second/model.onnx')).toHaveLength(2);

      // Redis lost the mirror (flushed, restored from an old snapshot): an API starting rewrites it.
      await redis.del(`${DEFAULT_KEY_PREFIX}:{deployments}`);
      expect(await mirror.readAll()).toEqual([]);
      await stack.startApi(env);
      expect((await mirror.readAll()).map((d) => d.id)).toEqual(expect.arrayContaining([warming.id]));
    }, 60_000);
  });

  describe('one version through its life', () => {
    let deployment: DeploymentView;
    const queued: string[] = [];

    it('registers once: the same name@version again is 409 deployment_exists; /readyz needs no worker', async () => {
      const ready = await fetch(`${api.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ info: { workers: { status: 'up', alive: 0 } } });
      const response = await registerForm(depthManifest('depth-life', '1.0.0'), { weights: model });
      deployment = await json<DeploymentView>(response);
      expect(deployment.state).toBe('warming');
      expect(await errorOf(await registerForm(depthManifest('depth-life', '1.0.0'), { weights: model }))).toMatchObject({
        status: 409,
        code: 'deployment_exists',
        message: expect.stringContaining('new version'),
      });
    });

    it('changes only the mutable fields with PUT, bumping the revision the mirror carries', async () => {
      const change = { description: 'the life of a version', replicas: 2, selector: { pool: 'depth' }, defaults: { colormap: 'turbo' } };
      const response = await admin('/depth-life/1.0.0', {
        method: 'PUT',
        body: JSON.stringify(change),
        headers: { 'content-type': 'application/json' },
      });
      expect(response.status).toBe(200);
      expect(await json<DeploymentView>(response)).toMatchObject(change);
      const entry = (await mirror.readAll()).find((d) => d.id === deployment.id)!;
      expect(entry).toMatchObject({ revision: 3, selector: { pool: 'depth' }, manifest: { description: 'the life of a version' } });
      const immutable = await admin('/depth-life/1.0.0', {
        method: 'PUT',
        body: JSON.stringify({ task: 'segmentation', replicas: 1 }),
        headers: { 'content-type': 'application/json' },
      });
      const tooBig = await admin('/depth-life/1.0.0', {
        method: 'PUT',
        body: JSON.stringify({ batching: { maxBatch: 100 } }),
        headers: { 'content-type': 'application/json' },
      });
      expect(await errorOf(tooBig)).toMatchObject({
        status: 400,
        code: 'invalid_request',
        message: expect.stringContaining('batching.maxBatch'),
      });
      expect(await errorOf(immutable)).toMatchObject({
        status: 400,
        code: 'invalid_request',
        message: expect.stringMatching(/task cannot change in place: register a new version/),
      });
    });

    it('serves once a worker reports it serving, and keeps taking jobs with no live worker (scale to zero)', async () => {
      await beat('worker-a', [{ deploymentId: deployment.id, state: 'warming', since: Date.now() }]);
      await beat('worker-b', [{ deploymentId: deployment.id, state: 'serving', since: Date.now() }]);
      const serving = await reaches(deployment.id, 'serving');
      expect(serving.workers).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ workerId: 'worker-a', state: 'warming' }),
          expect.objectContaining({ workerId: 'worker-b', state: 'serving' }),
        ]),
      );
      await registry.remove('worker-a');
      await registry.remove('worker-b');
      for (let i = 0; i < 3; i++) {
        const response = await submit(api, { image, model: 'depth-life@1.0.0' }, bearer(ops.key));
        expect(response.status).toBe(202);
        const job = await json<JobAccepted>(response);
        expect(job.state).toBe('queued');
        queued.push(job.id);
      }
    });

    it('refuses to retire a version an alias points at, naming the alias', async () => {
      const canary = await fetch(`${api.url}/v1/admin/models/depth-life/aliases/canary`, {
        method: 'PUT',
        body: JSON.stringify({ version: '1.0.0' }),
        headers: { ...bearer(ops.key), 'content-type': 'application/json' },
      });
      expect(canary.status).toBe(200);
      expect(await errorOf(await admin('/depth-life/1.0.0', { method: 'DELETE' }))).toMatchObject({
        status: 409,
        code: 'deployment_in_use',
        message: expect.stringContaining('canary'),
      });
      expect(
        (await fetch(`${api.url}/v1/admin/models/depth-life/aliases/canary`, { method: 'DELETE', headers: bearer(ops.key) })).status,
      ).toBe(200);
    });

    it('retires with ?drain=false: new jobs refused "retired" at once, waiting ones failed model_retired, then retired and out of the mirror', async () => {
      const response = await admin('/depth-life/1.0.0?drain=false', { method: 'DELETE' });
      expect(response.status).toBe(202);
      expect(await json<DeploymentView>(response)).toMatchObject({ state: 'retiring' });
      expect(await errorOf(await submit(api, { image, model: 'depth-life@1.0.0' }, bearer(ops.key)))).toMatchObject({
        status: 422,
        code: 'model_not_served',
        message: expect.stringContaining('retired'),
      });
      for (const id of queued) {
        const status = await json<JobStatus>(await fetch(`${api.url}/v1/jobs/${id}`, { headers: bearer(ops.key) }));
        expect(status).toMatchObject({ state: 'failed', error: { code: 'model_retired', message: expect.stringContaining('retired') } });
      }
      await reaches(deployment.id, 'retired');
      expect((await mirror.readAll()).some((d) => d.id === deployment.id)).toBe(false);
    });

    it('shows the version’s history in GET /v1/admin/models/:name: who, what, from which address', async () => {
      const described = await json<{ deployments: DeploymentView[]; audit: Array<Record<string, unknown>> }>(await admin('/depth-life'));
      expect(described.deployments).toEqual([expect.objectContaining({ id: deployment.id, state: 'retired' })]);
      expect(described.audit.map((e) => [e.action, e.actor])).toEqual([
        ['deployment.retired', 'api'],
        ['deployment.retiring', ops.id],
        ['deployment.serving', 'api'],
        ['deployment.updated', ops.id],
        ['deployment.warming', ops.id],
        ['deployment.registered', ops.id],
      ]);
      expect(described.audit.find((e) => e.action === 'deployment.retiring')).toMatchObject({
        targetType: 'deployment',
        targetId: 'depth-life@1.0.0',
        address: '127.0.0.1',
        details: expect.objectContaining({ deploymentId: deployment.id, to: 'retiring' }),
      });
      // A retired name@version may be registered again.
      expect((await registerForm(depthManifest('depth-life', '1.0.0'), { weights: model })).status).toBe(202);
    });
  });

  it('registers what a worker declares from its MODELS_DIR as a local deployment, serving once a worker serves it', async () => {
    const known = {
      name: 'local-depth',
      version: '3.0.0',
      task: 'depth' as const,
      queue: 'infer.{local-depth@3.0.0}',
      input: { name: 'input', description: 'NCHW float32, 28×28' },
    };
    await registry.declare([known]);
    const listed = async () =>
      (await json<{ deployments: DeploymentView[] }>(await admin(''))).deployments.find((d) => d.name === 'local-depth');
    const warming = await heard((v) => v.name === 'local-depth', 'local-depth registered');
    expect(warming).toMatchObject({ source: 'local', state: 'warming', createdBy: 'worker' });
    expect(await listed()).toMatchObject({ id: warming.id });
    await beat('worker-local', [], [{ ...known, executionProvider: 'cpu' }]);
    expect((await reaches(warming.id, 'serving')).workers).toEqual([
      expect.objectContaining({ workerId: 'worker-local', state: 'serving' }),
    ]);
    await registry.remove('worker-local');
  });

  it('fails an upload whose instance stopped before storing it, saying to register it again', async () => {
    // As an instance leaves it when it dies between accepting the upload and storing it: pulling, long ago.
    const db = createDatabase({
      url: stack.database.url,
      poolSize: 1,
      statementTimeoutMs: 5_000,
      connectTimeoutMs: 5_000,
      applicationName: 'test',
    });
    try {
      const row = await new DeploymentStore(db).create(
        {
          name: 'depth-orphan',
          version: '1.0.0',
          task: 'depth',
          state: 'pulling',
          source: 'upload',
          manifest: depthManifest('depth-orphan', '1.0.0', { weights: { store: sha256(model) } }),
          weights: { '': { sha256: sha256(model), bytes: 0 } },
        },
        { actor: ops.id },
      );
      await db
        .updateTable('deployments')
        .set({ updated_at: new Date(Date.now() - 3_600_000) })
        .where('id', '=', row.id)
        .execute();
      // Failed by whichever instance's reconciler came first; heard on this one's socket either way.
      const failedView = await reaches(row.id, 'failed');
      expect(failedView.reason).toMatch(/stopped before its weights were stored: register it again/);
    } finally {
      await db.destroy();
    }
  });

  it('refuses /deployments sockets without models:admin', async () => {
    const reader = await stack.createKey('reader', ['jobs:read']);
    const refused = io(`${api.url}${DEPLOYMENTS_NAMESPACE}`, { transports: ['websocket'], forceNew: true, auth: { token: reader.key } });
    const error = await new Promise<{ data?: { code: string } }>((resolve) => refused.once('connect_error', resolve));
    refused.close();
    expect(error.data?.code).toBe('forbidden');
  });

  if (!hasShared(...DEEPLAB))
    console.warn('skipping the DeepLabV3 upload: ../shared/models/segmentation/deeplabv3_mnv2_voc_257.onnx is absent');
});
