import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { io } from 'socket.io-client';
import {
  EVALUATION_EVENTS,
  EVALUATIONS_NAMESPACE,
  FINISHED_EVALUATION_STATES,
  type ComparisonView,
  type EvaluationView,
  type RolloutChange,
  type SampleResult,
} from '@fathom/contracts';
import { decodeNpy } from '@fathom/evaluation';
import {
  buildConstantDepthModel,
  buildHeatmapStandInModel,
  hasShared,
  numpyPython,
  repoRoot,
  sharedDir,
  sharedPath,
} from '@fathom/testing';
import { encodeNpyFloat32 } from '../apps/worker/src/imaging/float-map';
import { FathomStack, type ApiInstance } from './support/fathom-stack';

/**
 * The issue's story: an ML engineer evaluates model versions on datasets through the real queue
 * (built-in datasets; the Middlebury scene with depth models whose answer is known), reads the
 * report, compares two versions, and a promotion gate refuses a worse canary and lets a better one
 * through.
 */
const MIDDLEBURY = ['fixtures', 'depth', 'middlebury2014_motorcycle'];
const execFileAsync = promisify(execFile);
/**
 * Floors for the real models on the built-in sets, below what they scored on CPU when this was
 * written (DeepLabV3 on pet-composites: pixel accuracy 0.943, cat IoU 0.663, mIoU 0.552;
 * super-resolution-10 on photos-x3: PSNR 28.7 dB, SSIM 0.856): a regression in the pipeline
 * (resizing, normalisation, class maps, the Y channel) falls through them.
 */
const PET_PIXEL_ACCURACY = 0.9;
const PET_CAT_IOU = 0.55;
const PHOTOS_PSNR = 26;
const PHOTOS_SSIM = 0.8;
const [WIDTH, HEIGHT] = [741, 500];

async function post(api: ApiInstance, path: string, body: unknown): Promise<Response> {
  return fetch(`${api.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** Starts an evaluation and polls it (as the CLI does) until it ends. */
async function evaluate(api: ApiInstance, body: { dataset: string; model: string }, timeoutMs = 120_000): Promise<EvaluationView> {
  const started = await post(api, '/v1/evaluations', body);
  expect({ status: started.status, location: started.headers.get('location') }).toEqual({
    status: 202,
    location: expect.stringMatching(/^\/v1\/evaluations\//),
  });
  return waitForEnd(api, (await json<EvaluationView>(started)).id, timeoutMs);
}

async function waitForEnd(api: ApiInstance, id: string, timeoutMs = 120_000): Promise<EvaluationView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await json<EvaluationView>(await fetch(`${api.url}/v1/evaluations/${id}`));
    if (FINISHED_EVALUATION_STATES.includes(view.state)) return view;
    if (Date.now() > deadline) throw new Error(`evaluation ${id} still ${view.state} (${JSON.stringify(view.progress)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function samplesOf(api: ApiInstance, id: string): Promise<SampleResult[]> {
  const text = await (await fetch(`${api.url}/v1/evaluations/${id}/samples`)).text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as SampleResult);
}

/** `npm run eval -- …` as a user runs it (the built script), against `api`. */
async function runEvalCli(api: ApiInstance, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(process.execPath, [join(repoRoot(), 'dist/tools/eval/eval.js'), ...args], {
    env: { ...process.env, FATHOM_URL: api.url },
    encoding: 'utf8',
  });
}

/** A MODELS_DIR manifest: a depth model at the scene's exact size (so its output is compared pixel for pixel). */
function depthManifest(dir: string, name: string, values: Float32Array, kind: 'metric' | 'relative-inverse'): void {
  writeFileSync(join(dir, `${name}.onnx`), buildConstantDepthModel(values, HEIGHT, WIDTH));
  writeFileSync(
    join(dir, `${name}.model.json`),
    JSON.stringify({
      name,
      version: '1.0.0',
      task: 'depth',
      weights: `${name}.onnx`,
      input: { resize: { mode: 'fixed', width: WIDTH, height: HEIGHT } },
      evaluation: { depth: kind },
    }),
  );
}

/** The PP-OCRv4 detector's signature with an answer that is no use: a worse canary of the built-in ppocr-v4-det. */
function badDetectorManifest(dir: string): void {
  writeFileSync(join(dir, 'ppocr-bad.onnx'), buildHeatmapStandInModel());
  const builtIn = readFileSync(join(repoRoot(), 'libs/models/manifests/ppocr-v4-det.model.yaml'), 'utf8');
  writeFileSync(
    join(dir, 'ppocr-v4-det-bad.model.yaml'),
    builtIn.replace(/^version: .*$/m, 'version: 4.1.0-bad').replace(/^weights:\n {2}npm: .*$/m, 'weights: ppocr-bad.onnx'),
  );
}

describe('evaluating model versions through the real queue', () => {
  let stack: FathomStack;
  let api: ApiInstance;
  let truth: Float32Array | undefined;

  beforeAll(async () => {
    const models = mkdtempSync(join(tmpdir(), 'fathom-eval-models-'));
    badDetectorManifest(models);
    if (hasShared(...MIDDLEBURY)) {
      truth = decodeNpy(readFileSync(sharedPath(...MIDDLEBURY, 'depth_m.npy'))).data as Float32Array;
      const filled = (f: (d: number) => number) => Float32Array.from(truth!, (d) => (Number.isFinite(d) && d > 0 ? f(d) : 1));
      depthManifest(
        models,
        'depth-exact',
        filled((d) => d),
        'metric',
      );
      // Relative inverse depth: 3 × disparity + 0.5. Alignment in disparity space must undo it.
      depthManifest(
        models,
        'depth-affine',
        filled((d) => 3 / d + 0.5),
        'relative-inverse',
      );
      let seed = 7;
      const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 0.5 + 0.1;
      depthManifest(
        models,
        'depth-noise',
        filled(() => noise()),
        'relative-inverse',
      );
    }
    stack = await FathomStack.start();
    api = await stack.startApi({ API_DATASETS_SHARED_DIR: sharedDir() });
    await stack.startWorker({ MODELS_DIR: models });
  }, 120_000);
  afterAll(() => stack?.stop());

  describe('depth on the Middlebury 2014 motorcycle scene (metric ground truth)', () => {
    const itWithScene = hasShared(...MIDDLEBURY) ? it : it.skip;
    if (!hasShared(...MIDDLEBURY)) console.log(`skipped: ${sharedPath(...MIDDLEBURY)} is absent`);

    itWithScene(
      'a metric model that outputs the ground truth scores AbsRel 0 and δ<1.25 of 1',
      async () => {
        const view = await evaluate(api, { dataset: 'middlebury-motorcycle', model: 'depth-exact' });
        expect(view).toMatchObject({ state: 'completed', progress: { total: 1, done: 1, failed: 0 }, executionProviders: ['cpu'] });
        expect(view.metrics!['absRel']).toBeLessThan(1e-6);
        expect(view.metrics!['rmse']).toBeLessThan(1e-5);
        expect(view.metrics!['delta1']).toBe(1);
      },
      120_000,
    );

    itWithScene(
      'relative inverse depth, scaled and shifted, is aligned back: AbsRel ~0',
      async () => {
        const view = await evaluate(api, { dataset: 'middlebury-motorcycle', model: 'depth-affine' });
        expect(view.state).toBe('completed');
        expect(view.metrics!['absRel']).toBeLessThan(1e-5);
        expect(view.metrics!['delta1']).toBe(1);
      },
      120_000,
    );

    itWithScene(
      'noise gets the numbers an independent NumPy computation gets, to 1e-6',
      async () => {
        const view = await evaluate(api, { dataset: 'middlebury-motorcycle', model: 'depth-noise' });
        expect(view.state).toBe('completed');
        expect(view.metrics!['delta1']).toBeLessThan(0.9);
        const [sample] = await samplesOf(api, view.id);
        // The raw output the metrics read is the job's own artifact, there for anyone to check.
        const raw = Buffer.from(await (await fetch(`${api.url}/v1/jobs/${sample!.jobId}/result?artifact=raw`)).arrayBuffer());
        const dir = mkdtempSync(join(tmpdir(), 'fathom-eval-ref-'));
        writeFileSync(join(dir, 'prediction.npy'), raw);
        const mask = await sharp(sharedPath(...MIDDLEBURY, 'valid_mask.png'))
          .extractChannel(0)
          .raw()
          .toBuffer();
        writeFileSync(join(dir, 'valid.npy'), encodeNpyFloat32(Float32Array.from(mask), { width: WIDTH, height: HEIGHT }));
        const reference = JSON.parse(
          execFileSync(
            numpyPython(),
            [
              join(repoRoot(), 'libs/evaluation/reference/depth_reference.py'),
              join(dir, 'prediction.npy'),
              sharedPath(...MIDDLEBURY, 'depth_m.npy'),
              join(dir, 'valid.npy'),
              'relative-inverse',
            ],
            { encoding: 'utf8' },
          ),
        ) as Record<string, number>;
        for (const [metric, expected] of Object.entries(reference)) {
          expect({ metric, close: Math.abs(view.metrics![metric]! - expected) <= 1e-6 * Math.max(1, Math.abs(expected)) }).toEqual({
            metric,
            close: true,
          });
        }
      },
      120_000,
    );

    itWithScene(
      'the report is one HTML page with the sample as input, prediction, ground truth and error map',
      async () => {
        // A run of its own, not the one the test above left behind.
        const view = await evaluate(api, { dataset: 'middlebury-motorcycle', model: 'depth-noise' });
        const report = await fetch(`${api.url}${view.links.report}`);
        expect(report.status).toBe(200);
        expect(report.headers.get('content-type')).toMatch(/^text\/html/);
        // Served with its own policy: the page loads nothing but its inline styles and data: images.
        expect(report.headers.get('content-security-policy')).toBe(
          "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
        );
        const html = await report.text();
        expect(html).toContain('AbsRel');
        expect(html.match(/<img [^>]*src="data:image\//g)?.length ?? 0).toBeGreaterThanOrEqual(4);
        expect(html).not.toMatch(/src="https?:/);
      },
      120_000,
    );
  });

  it('the built-in text-lines set on the real PP-OCRv4 detector: precision, recall, F1 and latency per stage', async () => {
    const view = await evaluate(api, { dataset: 'text-lines', model: 'ppocr-v4-det' });
    expect(view).toMatchObject({ state: 'completed', model: { name: 'ppocr-v4-det', version: '4.0.0' }, executionProviders: ['cpu'] });
    expect(view.progress.failed).toBe(0);
    expect(view.metrics!['f1']).toBeGreaterThan(0.8);
    expect(view.latency!['inference']!.p95).toBeGreaterThan(0);
    expect(view.throughput).toBeGreaterThan(0);
    // The dashboards' quality panel reads it from /metrics.
    const metrics = await (await fetch(api.metricsUrl)).text();
    expect(metrics).toMatch(
      /fathom_eval_metric\{model="ppocr-v4-det",version="4.0.0",variant="",dataset="text-lines@[^"]+",metric="f1"\} (0\.[89]\d*|1)\n/,
    );
  }, 180_000);

  it('the built-in text-orientation set on the real PP-OCR orientation classifier: top-1 and the confusion matrix', async () => {
    const view = await evaluate(api, { dataset: 'text-orientation', model: 'ppocr-mobile-v2-cls' });
    expect(view.state).toBe('completed');
    expect(view.metrics!['top1']).toBeGreaterThan(0.8);
    expect(view.details).toHaveProperty('confusion');
  }, 180_000);

  it('npm run eval prints the table and writes the report, the samples and the evaluation to a folder', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fathom-eval-cli-'));
    const { stdout, stderr } = await runEvalCli(api, ['text-orientation', '--model', 'ppocr-mobile-v2-cls', '--reuse', '--out', out]);
    expect(stderr).toMatch(/evaluation \S+: 40 samples of text-orientation@\S+ on ppocr-mobile-v2-cls@2\.0\.0/);
    expect(stdout).toMatch(/^top-1\s+0\.\d+\s+higher$/m);
    expect(stdout).toMatch(/^inference\s+[\d.]+\s+[\d.]+$/m);
    expect(readFileSync(join(out, 'samples.jsonl'), 'utf8').trim().split('\n')).toHaveLength(40);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('<img');
    expect((JSON.parse(readFileSync(join(out, 'evaluation.json'), 'utf8')) as EvaluationView).state).toBe('completed');
  }, 120_000);

  it('npm run eval -- compare prints each metric with its interval and verdict', async () => {
    const { stdout } = await runEvalCli(api, ['compare', 'ppocr-v4-det@4.0.0', 'ppocr-v4-det@4.1.0-bad', '--dataset', 'text-lines']);
    expect(stdout).toMatch(/^F1\s+\S+\s+\S+\s+-\S+\s+\[\S+, \S+\]\s+worse$/m);
  }, 240_000);

  it('progress arrives over socket.io, and a run can be cancelled', async () => {
    const started = await json<EvaluationView>(await post(api, '/v1/evaluations', { dataset: 'text-lines', model: 'ppocr-v4-det' }));
    const socket = io(`${api.url}${EVALUATIONS_NAMESPACE}`, { transports: ['websocket'] });
    try {
      const progressed = new Promise<{ id: string }>((resolve) => socket.on(EVALUATION_EVENTS.progress, resolve));
      const finished = new Promise<EvaluationView>((resolve) => socket.on(EVALUATION_EVENTS.finished, resolve));
      const reply = (await socket.emitWithAck(EVALUATION_EVENTS.subscribe, { evaluationId: started.id })) as { ok: boolean };
      expect(reply.ok).toBe(true);
      expect((await progressed).id).toBe(started.id);
      const cancelled = await fetch(`${api.url}/v1/evaluations/${started.id}`, { method: 'DELETE' });
      expect(cancelled.status).toBe(202);
      const end = await finished;
      expect(end.state).toBe('cancelled');
      expect(end.progress.done).toBeLessThan(end.progress.total);
    } finally {
      socket.disconnect();
    }
  }, 120_000);

  it('compares two versions sample by sample, with a bootstrap interval and a verdict', async () => {
    let response = await post(api, '/v1/evaluations/compare', {
      dataset: 'text-lines',
      a: 'ppocr-v4-det@4.0.0',
      b: 'ppocr-v4-det@4.1.0-bad',
    });
    if (response.status === 202) {
      const { evaluations } = await json<{ evaluations: EvaluationView[] }>(response);
      for (const e of evaluations) await waitForEnd(api, e.id);
      response = await post(api, '/v1/evaluations/compare', {
        dataset: 'text-lines',
        a: 'ppocr-v4-det@4.0.0',
        b: 'ppocr-v4-det@4.1.0-bad',
      });
    }
    expect(response.status).toBe(200);
    const comparison = await json<ComparisonView>(response);
    const f1 = comparison.metrics.find((m) => m.metric === 'f1')!;
    expect(f1).toMatchObject({ better: 'higher', verdict: 'worse' });
    expect(f1.delta).toBeLessThan(-0.5);
    expect(f1.ci95[1]).toBeLessThan(0);
  }, 240_000);

  it('a promotion gate refuses a worse canary with the figures, and lets a better one through', async () => {
    const admin = (path: string, method: string, body?: unknown) =>
      fetch(`${api.url}/v1/admin/models/ppocr-v4-det${path}`, {
        method,
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
    expect((await admin('/gate', 'PUT', { dataset: 'text-lines', metric: 'f1', margin: 0.02 })).status).toBe(200);
    expect((await admin('/aliases/stable', 'PUT', { version: '4.0.0' })).status).toBe(200);
    expect((await admin('/aliases/canary', 'PUT', { version: '4.1.0-bad' })).status).toBe(200);

    const refused = await admin('/promote', 'POST');
    expect(refused.status).toBe(409);
    const { error } = await json<{
      error: { code: string; message: string; details: { comparison: { a: number; b: number; verdict: string } } };
    }>(refused);
    expect(error.code).toBe('promotion_refused');
    expect(error.message).toMatch(/worse than stable .* on f1/);
    expect(error.details.comparison.b).toBeLessThan(error.details.comparison.a);

    // Forcing past the gate needs a reason, which the change log keeps.
    expect((await admin('/promote?force=true', 'POST')).status).toBe(400);
    const forced = await admin('/promote?force=true', 'POST', { reason: 'testing the rollback path' });
    expect(forced.status).toBe(200);
    expect(await json<RolloutChange>(forced)).toMatchObject({ action: 'promote', reason: 'testing the rollback path' });

    // Now stable is the bad one: the real detector as canary is better, and promoted, with the gate's figures logged.
    expect((await admin('/aliases/canary', 'PUT', { version: '4.0.0' })).status).toBe(200);
    const promoted = await admin('/promote', 'POST');
    expect(promoted.status).toBe(200);
    const change = await json<RolloutChange>(promoted);
    expect(change.after.aliases.stable).toBe('4.0.0');
    expect(change.gate).toMatchObject({ metric: 'f1', margin: 0.02 });
    expect(change.gate!.canary).toBeGreaterThan(change.gate!.stable);
  }, 300_000);
});

describe('an evaluation run survives its API instance', () => {
  let stack: FathomStack;
  afterAll(() => stack?.stop());

  it('killed mid-run, it is resumed by another instance: every sample scored once, no job queued twice', async () => {
    stack = await FathomStack.start();
    const first = await stack.startApi();
    await stack.startWorker();
    const started = await json<EvaluationView>(await post(first, '/v1/evaluations', { dataset: 'text-lines', model: 'ppocr-v4-det' }));
    for (;;) {
      const view = await json<EvaluationView>(await fetch(`${first.url}/v1/evaluations/${started.id}`));
      if (view.progress.done >= 3) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    first.process.kill('SIGKILL');
    const second = await stack.startApi();
    const view = await waitForEnd(second, started.id, 180_000);
    expect(view).toMatchObject({ state: 'completed', progress: { failed: 0 } });
    const samples = await samplesOf(second, started.id);
    expect(samples).toHaveLength(view.progress.total);
    expect(samples.every((s) => s.state === 'scored')).toBe(true);
    expect(new Set(samples.map((s) => s.jobId)).size).toBe(samples.length);
  }, 300_000);
});

describe('whose evaluations a key sees (API_AUTH=keys)', () => {
  let stack: FathomStack;
  afterAll(() => stack?.stop());

  it("a key sees and cancels the runs it started, another key's are 404, models:admin sees all", async () => {
    stack = await FathomStack.start();
    const alice = await stack.createKey('alice', ['jobs:read', 'jobs:write']);
    const bob = await stack.createKey('bob', ['jobs:read', 'jobs:write']);
    const admin = await stack.createKey('ops', ['jobs:read', 'models:admin']);
    const api = await stack.startApi({ API_AUTH: 'keys' });
    await stack.startWorker();
    const as = (key: { key: string }, path: string, init: RequestInit = {}) =>
      fetch(`${api.url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${key.key}` } });

    const started = await as(alice, '/v1/evaluations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dataset: 'text-orientation', model: 'ppocr-mobile-v2-cls' }),
    });
    expect(started.status).toBe(202);
    const { id } = (await started.json()) as EvaluationView;

    const bobs = await as(bob, `/v1/evaluations/${id}`);
    expect({ status: bobs.status, code: ((await bobs.json()) as { error: { code: string } }).error.code }).toEqual({
      status: 404,
      code: 'evaluation_not_found',
    });
    expect((await as(bob, `/v1/evaluations/${id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await as(bob, `/v1/evaluations/${id}/samples`)).status).toBe(404);
    expect(((await (await as(bob, '/v1/evaluations')).json()) as { evaluations: EvaluationView[] }).evaluations).toEqual([]);
    const bobSocket = io(`${api.url}${EVALUATIONS_NAMESPACE}`, { transports: ['websocket'], auth: { token: bob.key } });
    try {
      expect(await bobSocket.emitWithAck(EVALUATION_EVENTS.subscribe, { evaluationId: id })).toMatchObject({ ok: false });
    } finally {
      bobSocket.disconnect();
    }

    expect((await as(admin, `/v1/evaluations/${id}`)).status).toBe(200);
    const mine = (await (await as(alice, '/v1/evaluations')).json()) as { evaluations: EvaluationView[] };
    expect(mine.evaluations.map((e) => e.id)).toEqual([id]);
    const cancelled = await as(alice, `/v1/evaluations/${id}`, { method: 'DELETE' });
    expect(cancelled.status).toBe(202);
  }, 120_000);
});

describe('real models from ../shared on the built-in sets made from its fixtures', () => {
  const DEEPLAB = ['models', 'segmentation', 'deeplabv3_mnv2_voc_257.onnx'];
  const UPSCALER = ['models', 'image-to-image', 'super-resolution-10.onnx'];
  const present = hasShared(...DEEPLAB) && hasShared(...UPSCALER) && hasShared('fixtures', 'images');
  if (!present)
    console.log(`skipped: ${sharedPath(...DEEPLAB)}, ${sharedPath(...UPSCALER)} or ${sharedPath('fixtures', 'images')} is absent`);
  let stack: FathomStack;
  let api: ApiInstance;

  beforeAll(async () => {
    if (!present) return;
    // The documented example manifests beside the real weights, as tasks.e2e-spec and image-to-image.e2e-spec serve them.
    const dir = mkdtempSync(join(tmpdir(), 'fathom-eval-real-'));
    for (const manifest of ['deeplabv3-mnv2-voc.model.yaml', 'super-resolution-10.model.yaml'])
      writeFileSync(join(dir, manifest), readFileSync(join(repoRoot(), 'docs/examples/models', manifest)));
    symlinkSync(sharedPath(...DEEPLAB), join(dir, 'deeplabv3_mnv2_voc_257.onnx'));
    symlinkSync(sharedPath('models/segmentation/deeplabv3_mnv2_voc_257.labels.txt'), join(dir, 'deeplabv3_mnv2_voc_257.labels.txt'));
    symlinkSync(sharedPath(...UPSCALER), join(dir, 'super-resolution-10.onnx'));
    stack = await FathomStack.start();
    api = await stack.startApi({ API_DATASETS_SHARED_DIR: sharedDir() });
    await stack.startWorker({ MODELS_DIR: dir, WORKER_BUILTIN_MODELS: 'false' });
  }, 120_000);
  afterAll(() => stack?.stop());

  (present ? it : it.skip)(
    'DeepLabV3 finds the cat in the composites: mIoU, pixel accuracy and IoU per class',
    async () => {
      const view = await evaluate(api, { dataset: 'pet-composites', model: 'deeplabv3-mnv2-voc' }, 240_000);
      expect(view).toMatchObject({ state: 'completed', progress: { failed: 0 } });
      console.log(
        `DeepLabV3 on pet-composites: ${JSON.stringify(view.metrics)}, cat IoU ${(view.details!['iou'] as Record<string, number | null>)['cat']}`,
      );
      expect(view.metrics!['pixelAccuracy']).toBeGreaterThan(PET_PIXEL_ACCURACY);
      expect((view.details!['iou'] as Record<string, number | null>)['cat']).toBeGreaterThan(PET_CAT_IOU);
    },
    300_000,
  );

  (present ? it : it.skip)(
    'super-resolution-10 enlarges the photos ×3: PSNR and SSIM against the originals',
    async () => {
      const view = await evaluate(api, { dataset: 'photos-x3', model: 'super-resolution-10' }, 240_000);
      expect(view).toMatchObject({ state: 'completed', progress: { failed: 0 } });
      console.log(`super-resolution-10 on photos-x3: ${JSON.stringify(view.metrics)}`);
      expect(view.metrics!['psnr']).toBeGreaterThan(PHOTOS_PSNR);
      expect(view.metrics!['ssim']).toBeGreaterThan(PHOTOS_SSIM);
    },
    300_000,
  );
});
