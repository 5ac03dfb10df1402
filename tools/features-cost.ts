/**
 * What the prediction log's features cost per job (issue 15's target: ≤ 2 % of the job's
 * compute), measured on the path the inference thread runs: for each case, an upload is prepared
 * for its model (prepareTaskInput), run (one onnxruntime session.run) and finished (finishTask),
 * which is the job's compute; then its input features (jobInputFeatures, on the model-input
 * pixels) and output features (jobOutputFeatures, on the task's numbers), contract checks included.
 * Pixel statistics (an input's, an image-to-image output's) are taken on the image reduced to
 * ≤ 256 px a side (PIXEL_STATS_MAX_SIDE), so their cost is one cheap pass over the pixels plus a
 * fixed amount. inference.pool.features.spec pins that these calls are what the thread returns.
 *
 *   npm run build && node dist/tools/features-cost.js
 *
 * Cases: depth at 518×392 and at a 4:3 photo's 686×518 and at the cap of 2072×518; the PP-OCRv4
 * text detector at its largest input, 960×960; DeepLabV3 at 257×257; super-resolution-10 at its
 * tile cap (16 tiles: 848×848 in, 2544×2544 out). Depth Anything's weights are not at hand: depth
 * runs a Depth-Anything-shaped stand-in (libs/testing buildConvDepthModel) that costs far less
 * than the real model, so its share is an upper bound. The real models come from ../shared/models
 * (a case is skipped, saying so, when its model is absent).
 *
 * One onnxruntime and one libvips thread, so the job's wall time is its CPU time: the share is
 * added CPU over the job's CPU. Medians of 9 runs after a warm-up, each run timing the job and its
 * features back to back. No timing is asserted anywhere: on a shared machine the figures are
 * indications, not limits.
 */
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { parseTaskOptions } from '@fathom/contracts';
import { modelManifestSchema, readManifestFile, specsFromManifest, type ModelSpec } from '@fathom/models';
import { buildConvDepthModel, hasShared, repoRoot, sharedPath } from '@fathom/testing';
import { jobInputFeatures, jobOutputFeatures } from '../apps/worker/src/features/job-features';
import { DEFAULT_PNG_ENCODING } from '../apps/worker/src/imaging/png-encoding';
import { finishTask, prepareTaskInput } from '../apps/worker/src/tasks/task-registry';

const RUNS = 9;
const MAX_PIXELS = 40e6;

interface Case {
  name: string;
  spec: ModelSpec;
  /** The upload's size; a shared photo (or a synthetic image) resized to it, as a JPEG. */
  upload: { width: number; height: number };
}

function median(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return (sorted[(sorted.length - 1) >> 1]! + sorted[sorted.length >> 1]!) / 2;
}

/** A photo-like upload: a shared photo when there is one, else smooth gradients with noise. */
async function uploadOf({ width, height }: Case['upload']): Promise<Buffer> {
  const photo = 'fixtures/images/dav2_demo01_street_outdoor.jpg';
  if (hasShared(photo)) {
    return sharp(readFileSync(sharedPath(photo)))
      .resize(width, height, { fit: 'fill' })
      .jpeg({ quality: 90 })
      .toBuffer();
  }
  const data = Buffer.alloc(width * height * 3);
  let seed = 1;
  for (let i = 0, p = 0; i < width * height; i++, p += 3) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const noise = (seed % 41) - 20;
    data[p] = Math.max(0, Math.min(255, ((i % width) * 255) / width + noise));
    data[p + 1] = Math.max(0, Math.min(255, (Math.floor(i / width) * 255) / height - noise));
    data[p + 2] = Math.max(0, Math.min(255, 128 + noise * 2));
  }
  return sharp(data, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

function cases(): Case[] {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-features-cost-'));
  const fromManifest = (manifest: object, name: string) =>
    specsFromManifest(modelManifestSchema.parse(manifest), { manifestFile: join(dir, `${name}.model.json`), cacheDir: dir })[0]!;
  writeFileSync(join(dir, 'conv-depth.onnx'), buildConvDepthModel());
  const depth = (resize: object) =>
    fromManifest({ name: 'conv-depth', version: '1.0.0', task: 'depth', weights: 'conv-depth.onnx', input: { resize } }, 'conv-depth');
  const found: Case[] = [
    { name: 'depth 518x392 (stand-in)', spec: depth({ mode: 'fixed', width: 518, height: 392 }), upload: { width: 1036, height: 784 } },
    {
      name: 'depth 686x518, a 4:3 photo (stand-in)',
      spec: depth({ mode: 'keep-aspect', multiple: 14, target: 518, fit: 'lower-bound', maxSide: 2072 }),
      upload: { width: 1600, height: 1200 },
    },
    {
      name: 'depth 2072x518, the cap (stand-in)',
      spec: depth({ mode: 'keep-aspect', multiple: 14, target: 518, fit: 'lower-bound', maxSide: 2072 }),
      upload: { width: 4000, height: 1000 },
    },
  ];
  const shared = (file: string, into: string) => {
    if (!hasShared(file)) {
      console.warn(`skipping a case: ../shared/${file} is absent`);
      return false;
    }
    symlinkSync(sharedPath(file), join(dir, into));
    return true;
  };
  if (shared('models/text-detection/ch_PP-OCRv4_det_infer.onnx', 'ppocr.onnx')) {
    const manifest = readManifestFile(join(repoRoot(), 'libs/models/manifests/ppocr-v4-det.model.yaml'));
    found.push({
      name: 'text-detection 960x960 (PP-OCRv4)',
      spec: fromManifest({ ...manifest, weights: 'ppocr.onnx' }, 'ppocr'),
      upload: { width: 1920, height: 1920 },
    });
  }
  if (shared('models/segmentation/deeplabv3_mnv2_voc_257.onnx', 'deeplabv3_mnv2_voc_257.onnx')) {
    shared('models/segmentation/deeplabv3_mnv2_voc_257.labels.txt', 'deeplabv3_mnv2_voc_257.labels.txt');
    const manifest = readManifestFile(join(repoRoot(), 'docs/examples/models/deeplabv3-mnv2-voc.model.yaml'));
    found.push({
      name: 'segmentation 257x257 (DeepLabV3)',
      spec: fromManifest(manifest, 'deeplabv3-mnv2-voc'),
      upload: { width: 1024, height: 768 },
    });
  }
  if (shared('models/image-to-image/super-resolution-10.onnx', 'super-resolution-10.onnx')) {
    const manifest = readManifestFile(join(repoRoot(), 'docs/examples/models/super-resolution-10.model.yaml'));
    found.push({
      name: 'image-to-image 16 tiles, 848x848 -> 2544x2544 (super-resolution-10)',
      spec: fromManifest(manifest, 'super-resolution-10'),
      upload: { width: 848, height: 848 },
    });
  }
  return found;
}

async function measure({ name, spec, upload: size }: Case) {
  const session = await ort.InferenceSession.create(spec.weights, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3, // DeepLabV3's export warns about every initializer it lists as an input
  });
  const upload = await uploadOf(size);
  const options = parseTaskOptions(spec.task, spec.defaults);
  const job = async () => {
    const prepared = await prepareTaskInput(upload, spec, { maxPixels: MAX_PIXELS });
    const { tensor } = prepared;
    const outputs = await session.run({ [spec.input.name]: new ort.Tensor('float32', tensor.data, tensor.dims) });
    const output = outputs[spec.output.name]!;
    const result = await finishTask(spec, prepared, {
      options,
      output: { data: output.data as Float32Array, dims: output.dims },
      png: DEFAULT_PNG_ENCODING,
    });
    return { prepared, result };
  };
  // Each run times the job and then its features, back to back: both meet the same load, which a
  // shared machine changes from one second to the next; the share is the median of the runs' shares.
  await job();
  const runs: Array<{ job: number; input: number; output: number }> = [];
  let width = 0;
  let height = 0;
  for (let i = 0; i < RUNS; i++) {
    let start = performance.now();
    const { prepared, result } = await job();
    const jobMs = performance.now() - start;
    start = performance.now();
    const input = jobInputFeatures(prepared.forFeatures, { bytes: upload.length, displayed: prepared.image });
    const inputMs = performance.now() - start;
    start = performance.now();
    const output = jobOutputFeatures(result.features);
    const outputMs = performance.now() - start;
    if (!input || !output) throw new Error(`${name}: a feature was left out (input ${!!input}, output ${!!output})`);
    ({ width, height } = prepared.forFeatures.pixels);
    runs.push({ job: jobMs, input: inputMs, output: outputMs });
  }
  await session.release();
  return {
    case: name,
    'input features on': `${width}x${height}`,
    'job ms': round(median(runs.map((r) => r.job))),
    'input features ms': round(median(runs.map((r) => r.input))),
    'output features ms': round(median(runs.map((r) => r.output))),
    'share of the job %': round(median(runs.map((r) => (100 * (r.input + r.output)) / r.job))),
  };
}

const round = (v: number) => Math.round(v * 100) / 100;

async function main(): Promise<void> {
  sharp.cache(false);
  sharp.concurrency(1);
  const rows = [];
  for (const c of cases()) rows.push(await measure(c));
  console.table(rows);
  console.log(JSON.stringify({ runs: RUNS, statistic: 'median', rows }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
