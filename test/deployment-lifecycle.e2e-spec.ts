import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import type { DeploymentView, JobAccepted, JobStatus } from '@fathom/contracts';
import { buildDepthStandInModel, hasShared, sharedPath } from '@fathom/testing';
import { bearer, depthModelsDir, FathomStack, NULL_MODEL_INPUT, submit } from './support/fathom-stack';

const DEEPLAB = 'models/segmentation/deeplabv3_mnv2_voc_257.onnx';
const LABELS = 'models/segmentation/deeplabv3_mnv2_voc_257.labels.txt';
const CAT = 'fixtures/images/cc0_chelsea_cat.png';
const withDeeplab = hasShared(DEEPLAB) && hasShared(LABELS) && hasShared(CAT);
if (!withDeeplab) console.warn(`skipping the DeepLabV3 deployment story: ../shared/${DEEPLAB}, its labels or the cat photo is absent`);
const LFS_POINTER = 'models/broken/git_lfs_pointer_depth_anything_v2_vits.onnx';
const HTML_PAGE = 'models/broken/html_page_saved_as_mobilenetv2-7.onnx';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The README's DeepLabV3 manifest as a REST body: labels inline, weights uploaded in the same request or at a URL. */
function deeplabManifest(version: string, weights?: { url: string; sha256: string }): Record<string, unknown> {
  return {
    name: 'deeplabv3-mnv2-voc',
    version,
    task: 'segmentation',
    description: 'DeepLabV3 MobileNetV2 — 21 PASCAL VOC classes',
    ...(weights ? { weights } : {}),
    input: {
      name: 'sub_7',
      layout: 'NHWC',
      channels: 'RGB',
      resize: { mode: 'fixed', width: 257, height: 257 },
      scaling: 'symmetric',
    },
    output: { name: 'ResizeBilinear_3', layout: 'NHWC', kind: 'logits' },
    labels: readFileSync(sharedPath(LABELS), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  };
}

describe('an ML engineer deploys model versions over REST while two workers run, with no restart (issue 13, done when)', () => {
  let stack: FathomStack;
  let admin: Record<string, string>;
  let weightsServer: Server;
  let weightsUrl: string;

  beforeAll(async () => {
    stack = await FathomStack.start();
    const { key } = await stack.createKey('ml-team', ['models:admin', 'jobs:write', 'jobs:read']);
    await stack.startApi({ API_AUTH: 'keys' });
    admin = bearer(key);
    // Two running workers, each serving only a local stand-in: nothing of DeepLabV3 on their disks.
    const local = depthModelsDir(buildDepthStandInModel(), 'depth-test', NULL_MODEL_INPUT);
    await Promise.all([stack.startWorker({ MODELS_DIR: local }), stack.startWorker({ MODELS_DIR: local })]);
    // A model registry of the user's own, over plain HTTP.
    weightsServer = createServer((request, response) => {
      if (request.url !== '/deeplab.onnx' || !withDeeplab) return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(sharedPath(DEEPLAB)));
    });
    await new Promise<void>((resolve) => weightsServer.listen(0, '127.0.0.1', resolve));
    weightsUrl = `http://127.0.0.1:${(weightsServer.address() as AddressInfo).port}/deeplab.onnx`;
  }, 120_000);
  afterAll(async () => {
    await new Promise((resolve) => (weightsServer ? weightsServer.close(resolve) : resolve(undefined)));
    await stack?.stop();
  });

  async function register(manifest: Record<string, unknown>, weights?: Buffer): Promise<Response> {
    if (!weights)
      return fetch(`${stack.api.url}/v1/admin/models`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify(manifest),
      });
    const form = new FormData();
    form.append('manifest', JSON.stringify(manifest));
    form.append('weights', new Blob([new Uint8Array(weights)]), 'model.onnx');
    return fetch(`${stack.api.url}/v1/admin/models`, { method: 'POST', headers: admin, body: form });
  }

  async function deployment(name: string, version: string): Promise<DeploymentView> {
    const response = await fetch(`${stack.api.url}/v1/admin/models/${name}/${version}`, { headers: admin });
    expect(response.status).toBe(200);
    return (await response.json()) as DeploymentView;
  }

  /** Polls the deployment until `done` holds, as a CI job would. */
  async function until(name: string, version: string, done: (d: DeploymentView) => boolean, timeoutMs = 60_000): Promise<DeploymentView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await deployment(name, version);
      if (done(view)) return view;
      if (Date.now() > deadline) throw new Error(`${name}@${version} never got there: ${JSON.stringify(view)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  const servingOnBoth = (d: DeploymentView) => d.state === 'serving' && d.workers.filter((w) => w.state === 'serving').length === 2;

  async function segmentCat(model: string): Promise<JobStatus> {
    const response = await submit(stack.api, { image: readFileSync(sharedPath(CAT)), model, filename: 'cat.png' }, admin);
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as JobAccepted;
    return stack.jobEnd(id, { key: admin.authorization!.slice('Bearer '.length) });
  }

  (withDeeplab ? it : it.skip)(
    'registers DeepLabV3 with uploaded weights, serves it on both workers, canaries a version pulled from a URL, and retires the first',
    async () => {
      const weights = readFileSync(sharedPath(DEEPLAB));
      const accepted = await register(deeplabManifest('1.0.0'), weights);
      expect(accepted.status).toBe(202);
      const first = await until('deeplabv3-mnv2-voc', '1.0.0', servingOnBoth);
      expect(first.weights['']).toMatchObject({ sha256: sha256(weights), bytes: weights.length });

      const cat = await segmentCat('deeplabv3-mnv2-voc@1.0.0');
      expect(cat.state).toBe('completed');
      expect((cat.result!.summary as { classes: Array<{ label: string }> }).classes[0]!.label).toBe('cat');

      // A second version, pulled by the API from the user's registry: pending → pulling → … → serving.
      const byUrl = await register(deeplabManifest('1.1.0', { url: weightsUrl, sha256: sha256(weights) }));
      expect(byUrl.status).toBe(202);
      await until('deeplabv3-mnv2-voc', '1.1.0', servingOnBoth);

      // Canary: half of `model=deeplabv3-mnv2-voc` goes to 1.1.0.
      const put = (path: string, body: unknown) =>
        fetch(`${stack.api.url}/v1/admin/models/deeplabv3-mnv2-voc/${path}`, {
          method: 'PUT',
          headers: { ...admin, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      expect((await put('aliases/stable', { version: '1.0.0' })).status).toBe(200);
      expect((await put('aliases/canary', { version: '1.1.0' })).status).toBe(200);
      expect((await put('weights', { stable: 50, canary: 50 })).status).toBe(200);
      const routed = await Promise.all(Array.from({ length: 12 }, () => segmentCat('deeplabv3-mnv2-voc')));
      expect(new Set(routed.map((s) => s.model.version))).toEqual(new Set(['1.0.0', '1.1.0']));

      // 1.0.0 is stable: it cannot be deleted until the alias moves.
      const refused = await fetch(`${stack.api.url}/v1/admin/models/deeplabv3-mnv2-voc/1.0.0`, { method: 'DELETE', headers: admin });
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { error: { code: string; message: string } }).error).toMatchObject({
        code: 'deployment_in_use',
        message: expect.stringContaining('stable'),
      });
      expect((await fetch(`${stack.api.url}/v1/admin/models/deeplabv3-mnv2-voc/promote`, { method: 'POST', headers: admin })).status).toBe(
        200,
      );

      // Jobs already queued on 1.0.0 drain; new ones are refused at once.
      const queued = await Promise.all(
        Array.from({ length: 6 }, async () => {
          const response = await submit(
            stack.api,
            { image: readFileSync(sharedPath(CAT)), model: 'deeplabv3-mnv2-voc@1.0.0', filename: 'cat.png' },
            admin,
          );
          return ((await response.json()) as JobAccepted).id;
        }),
      );
      const deleted = await fetch(`${stack.api.url}/v1/admin/models/deeplabv3-mnv2-voc/1.0.0`, { method: 'DELETE', headers: admin });
      expect(deleted.status).toBe(202);
      const late = await submit(stack.api, { image: readFileSync(sharedPath(CAT)), model: 'deeplabv3-mnv2-voc@1.0.0' }, admin);
      expect(late.status).toBe(422);
      expect(((await late.json()) as { error: { code: string; message: string } }).error).toMatchObject({
        code: 'model_not_served',
        message: expect.stringContaining('retired'),
      });
      const ends = await Promise.all(queued.map((id) => stack.jobEnd(id, { key: admin.authorization!.slice(7) })));
      expect(ends.map((s) => s.state)).toEqual(queued.map(() => 'completed'));

      // Drained, then released by every worker; 1.1.0 serves on.
      const retired = await until('deeplabv3-mnv2-voc', '1.0.0', (d) => d.state === 'retired' && d.workers.length === 0);
      expect(retired.reason).toBeNull();
      const models = (await (await fetch(`${stack.api.url}/v1/models`, { headers: admin })).json()) as {
        models: Array<{ name: string; versions: Array<{ version: string; workers: number }> }>;
      };
      const versions = models.models.find((m) => m.name === 'deeplabv3-mnv2-voc')!.versions;
      expect(versions.find((v) => v.version === '1.0.0')?.workers ?? 0).toBe(0);
      expect(versions.find((v) => v.version === '1.1.0')!.workers).toBe(2);
      expect((await segmentCat('deeplabv3-mnv2-voc')).model.version).toBe('1.1.0');

      // Who did what, from where.
      const described = (await (await fetch(`${stack.api.url}/v1/admin/models/deeplabv3-mnv2-voc`, { headers: admin })).json()) as {
        audit: Array<{ action: string; targetId: string; address: string | null }>;
      };
      expect(described.audit.filter((e) => e.targetId === 'deeplabv3-mnv2-voc@1.0.0').map((e) => e.action)).toEqual(
        expect.arrayContaining(['deployment.registered', 'deployment.serving', 'deployment.retiring', 'deployment.retired']),
      );
      expect(described.audit.find((e) => e.action === 'deployment.retiring')!.address).toBe('127.0.0.1');
    },
    300_000,
  );

  it.each([
    ['a Git LFS pointer', () => readFileSync(sharedPath(LFS_POINTER)), /Git LFS pointer/i],
    ['an HTML page saved as .onnx', () => readFileSync(sharedPath(HTML_PAGE)), /HTML/i],
    ['a truncated file', () => buildDepthStandInModel().subarray(0, 200), /not a complete ONNX model/],
  ])('a broken upload (%s) ends failed with a clear reason, and every worker keeps serving', async (what, bytes, reason) => {
    if (what !== 'a truncated file' && !hasShared(what.includes('LFS') ? LFS_POINTER : HTML_PAGE)) {
      console.warn(`skipping ${what}: not in ../shared`);
      return;
    }
    const version = `0.0.${Math.floor(Math.random() * 1e6)}`;
    const response = await register({ name: 'broken', version, task: 'depth', ...NULL_MODEL_INPUT }, bytes());
    expect(response.status).toBe(202);
    const failed = await until('broken', version, (d) => d.state === 'failed');
    expect(failed.reason).toMatch(reason);
    const stillServing = await submit(stack.api, { image: await buildPng(), model: 'depth-test' }, admin, '/v1/infer');
    expect(stillServing.status).toBe(200);
    for (const worker of stack.workers) expect(worker.child.exitCode).toBeNull();
  });

  it('weights whose sha256 is not the manifest’s end failed, naming both digests', async () => {
    const weights = buildDepthStandInModel();
    const wrong = 'f'.repeat(64);
    const response = await register(
      { name: 'mismatch', version: '1.0.0', task: 'depth', weights: { upload: 'weights', sha256: wrong }, ...NULL_MODEL_INPUT },
      weights,
    );
    expect(response.status).toBe(202);
    const failed = await until('mismatch', '1.0.0', (d) => d.state === 'failed');
    expect(failed.reason).toContain(wrong);
    expect(failed.reason).toContain(sha256(weights));
  });
});

/** A small grey PNG (the 28×28 stand-in resizes it). */
function buildPng(): Promise<Buffer> {
  return sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .png()
    .toBuffer();
}
