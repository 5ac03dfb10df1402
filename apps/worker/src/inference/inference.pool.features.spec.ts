import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { HISTOGRAM_BINS, parseTaskOptions, type TaskOutputFeatures } from '@fathom/contracts';
import { modelManifestSchema, specKey, specsFromManifest, type ModelSpec } from '@fathom/models';
import {
  buildConstantDepthModel,
  buildDepthStandInModel,
  buildHeatmapStandInModel,
  buildUpscaleStandInModel,
  itWithShared,
  runOnnx,
} from '@fathom/testing';
import { inputFeatures } from '../features/input-features';
import { jobInputFeatures, jobOutputFeatures } from '../features/job-features';
import { depthOutputFeatures, textDetectionOutputFeatures } from '../features/output-features';
import { decodeResized } from '../imaging/image-decoder';
import { DEFAULT_PNG_ENCODING } from '../imaging/png-encoding';
import { planModelInputSize } from '../imaging/resize-plan';
import { finishTask, prepareTaskInput } from '../tasks/task-registry';
import { InferencePool } from './inference.pool';

/**
 * The prediction log's features (issue 15) as a job's run through the pool returns them: computed
 * on the inference thread from the pixels and numbers the job already had, equal to the same
 * computation done here on the same pixels.
 */
describe('a job run through the pool comes back with its input and output features', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-pool-features-'));
  const SIDE = 28;
  /** Known depth values: a ramp 0, 0.1, … 78.3 over the 28×28 map. */
  const ramp = Float32Array.from({ length: SIDE * SIDE }, (_, i) => i / 10);
  const spec = (name: string, model: Buffer, manifest: object): ModelSpec => {
    writeFileSync(join(dir, `${name}.onnx`), model);
    return specsFromManifest(modelManifestSchema.parse({ name, version: '1.0.0', weights: `${name}.onnx`, ...manifest }), {
      manifestFile: join(dir, `${name}.model.json`),
      cacheDir: dir,
    })[0]!;
  };
  const small = { resize: { mode: 'keep-aspect', multiple: 14, target: SIDE, fit: 'lower-bound', maxSide: 112 } };
  const depth = spec('depth', buildDepthStandInModel(), { task: 'depth', input: small });
  const constant = spec('constant', buildConstantDepthModel(ramp, SIDE, SIDE), {
    task: 'depth',
    input: { resize: { mode: 'fixed', width: SIDE, height: SIDE } },
  });
  const text = spec('text', buildHeatmapStandInModel(), {
    task: 'text-detection',
    input: { resize: { mode: 'keep-aspect', multiple: 32, target: 64, fit: 'upper-bound', maxSide: 64 } },
  });
  // ×3, tile by tile: a 300×200 upload comes back 900×600, both sides' statistics then on ≤ 256 px.
  const upscale = spec('upscale', buildUpscaleStandInModel({ tile: 32, scale: 3 }), {
    task: 'image-to-image',
    input: { channels: 'Y', resize: { mode: 'fixed', width: 32, height: 32 }, scaling: 'unit' },
    output: { range: { kind: 'fixed', min: 0, max: 1 } },
    tiling: { maxTiles: 200, overlap: 8 },
  });
  let pool: InferencePool;

  beforeAll(async () => {
    pool = new InferencePool(
      {
        models: [depth, constant, text, upscale],
        intraOpThreads: 1,
        executionProviders: ['cpu'],
        maxPixels: 40e6,
        sharpThreads: 1,
        png: DEFAULT_PNG_ENCODING,
      },
      1,
    );
    await pool.start();
  });
  afterAll(() => pool.close());

  const run = (model: ModelSpec, image: Buffer, extras: { raw?: boolean } = {}) =>
    pool.run(specKey(model), new Uint8Array(image), parseTaskOptions(model.task, undefined), undefined, 0, extras);
  const solid = (width: number, height: number, colour: { r: number; g: number; b: number }) =>
    sharp({ create: { width, height, channels: 3, background: colour } })
      .png()
      .toBuffer();

  it('describes a one-colour upload by its model-input pixels: its luma, no contrast, one bin per channel', async () => {
    const upload = await solid(64, 48, { r: 200, g: 100, b: 50 });
    const { features } = await run(depth, upload);

    // The same computation on the pixels the model saw (64×48 planned to 42×28).
    const { rgb } = await decodeResized(upload, {
      maxPixels: 40e6,
      sizeFor: (s) => planModelInputSize(s.width, s.height, depth.input.resize),
    });
    expect([rgb.width, rgb.height]).toEqual([42, 28]);
    expect(features.input).toEqual(inputFeatures(rgb, { bytes: upload.length, format: 'png', width: 64, height: 48 }));
    // Known answers: BT.601 luma 0.299·200 + 0.587·100 + 0.114·50, nothing varies, HSV saturation (200 − 50)/200.
    const histogram = new Array<number>(3 * HISTOGRAM_BINS).fill(0);
    for (const bin of [200 >> 5, HISTOGRAM_BINS + (100 >> 5), 2 * HISTOGRAM_BINS + (50 >> 5)]) histogram[bin] = 1;
    expect(features.input).toMatchObject({
      bytes: upload.length,
      format: 'png',
      width: 64,
      height: 48,
      megapixels: (64 * 48) / 1e6,
      orientation: 1,
      meanLuma: expect.closeTo(124.2, 9),
      contrast: 0,
      sharpness: 0,
      saturation: expect.closeTo(0.75, 9),
      clipped: 0,
      histogram,
    });

    // The stand-in answers the mean of the normalised channels: one value everywhere, so no range.
    const level = ((200 / 255 - 0.485) / 0.229 + (100 / 255 - 0.456) / 0.224 + (50 / 255 - 0.406) / 0.225) / 3;
    expect(features.output).toEqual({
      task: 'depth',
      min: expect.closeTo(level, 5),
      max: expect.closeTo(level, 5),
      range: 0,
      mean: expect.closeTo(level, 5),
      p5: expect.closeTo(level, 5),
      p50: expect.closeTo(level, 5),
      p95: expect.closeTo(level, 5),
      near: 0,
      far: 0,
    });
  });

  it('describes the depth map before it is normalised to 16 bits, with or without the raw artifact', async () => {
    const upload = await solid(SIDE, SIDE, { r: 10, g: 20, b: 30 });
    const plain = await run(constant, upload);
    const evaluation = await run(constant, upload, { raw: true });
    expect(plain.artifacts.map((a) => a.name)).toEqual(['depth']);
    expect(evaluation.artifacts.map((a) => a.name)).toEqual(['depth', 'raw']);
    for (const { features } of [plain, evaluation]) {
      expect(features.output).toEqual(depthOutputFeatures(ramp));
      expect(features.output).toMatchObject({
        min: 0,
        max: expect.closeTo(78.3, 5),
        range: expect.closeTo(78.3, 5),
        near: expect.closeTo(0.1, 2),
      });
    }
  });

  it('counts text boxes and the share of the image they cover, as the boxes artifact draws them', async () => {
    // A bright block on black: the stand-in's heat map (sigmoid of the normalised mean) passes the threshold only there.
    const pixels = Buffer.alloc(64 * 64 * 3);
    for (let y = 16; y < 48; y++) pixels.fill(255, (y * 64 + 8) * 3, (y * 64 + 56) * 3);
    const upload = await sharp(pixels, { raw: { width: 64, height: 64, channels: 3 } })
      .png()
      .toBuffer();
    const { features, artifacts } = await run(text, upload);
    const drawn = JSON.parse(Buffer.from(artifacts.find((a) => a.name === 'boxes')!.bytes).toString()) as {
      width: number;
      height: number;
      boxes: { points: [number, number][]; score: number }[];
    };
    expect(drawn.boxes.length).toBeGreaterThan(0);
    const expected = textDetectionOutputFeatures(drawn.boxes, drawn);
    const output = features.output as TaskOutputFeatures<'text-detection'>;
    expect(output).toMatchObject({ task: 'text-detection', boxes: expected.boxes, textArea: expected.textArea });
    // The artifact rounds scores to 3 decimals; the features keep them whole.
    expect(output.meanScore).toBeCloseTo(expected.meanScore!, 3);
  });

  itWithShared(
    ['fixtures', 'images', 'exif_orientation6_landscape.jpg'],
    'reports EXIF orientation 6 and the size the photo is displayed at',
    async (path) => {
      const upload = readFileSync(path);
      const header = await sharp(upload).metadata();
      expect(header.orientation).toBe(6);
      const { features, width, height } = await run(depth, upload);
      // Orientation 6 turns the stored image a quarter turn: displayed width is the stored height.
      expect([width, height]).toEqual([header.height, header.width]);
      expect(features.input).toMatchObject({
        format: 'jpeg',
        orientation: 6,
        width: header.height,
        height: header.width,
        bytes: upload.length,
      });
    },
  );

  it('leaves out what it cannot compute and still finishes the job: an SVG is no format the log names', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="#808080"/></svg>',
    );
    const output = await run(depth, svg);
    expect([output.width, output.height]).toEqual([40, 30]);
    expect(output.features.input).toBeUndefined();
    expect(output.features.output).toMatchObject({ task: 'depth', range: 0 });
    // Said, so that the main thread counts it (fathom_prediction_features_skipped_total).
    expect(output.features.skipped).toEqual(['input']);
  });

  it('computes, on the thread, exactly what tools/features-cost.ts times: jobInputFeatures and jobOutputFeatures on the job’s own pixels', async () => {
    const pixels = Buffer.alloc(300 * 200 * 3);
    for (let i = 0; i < 300 * 200; i++) pixels.fill((i % 300) + Math.floor(i / 300) / 2, i * 3, i * 3 + 3);
    const upload = await sharp(pixels, { raw: { width: 300, height: 200, channels: 3 } })
      .png()
      .toBuffer();
    const { features } = await run(upscale, upload);
    expect(features.skipped).toBeUndefined();

    // The tool's steps: prepare, run the model, finish, then the two feature calls it times.
    const prepared = await prepareTaskInput(upload, upscale, { maxPixels: 40e6 });
    const { output } = await runOnnx(upscale.weights, { input: prepared.tensor });
    const result = await finishTask(upscale, prepared, {
      options: parseTaskOptions('image-to-image', undefined),
      output: output!,
      png: DEFAULT_PNG_ENCODING,
    });
    expect(features.input).toEqual(jobInputFeatures(prepared.forFeatures, { bytes: upload.length, displayed: prepared.image }));
    expect(features.output).toEqual(jobOutputFeatures(result.features));
    // Both described at the working size (the 300×200 input and the 900×600 output, both at 256×171):
    // the output, each pixel the input's repeated 3 × 3, looks the same as the input there.
    expect(prepared.forFeatures.pixels).toMatchObject({ width: 300, height: 200 });
    const out = features.output as TaskOutputFeatures<'image-to-image'>;
    expect(out).toMatchObject({ task: 'image-to-image', width: 900, height: 600, scale: 3 });
    expect(out.meanLuma).toBeCloseTo(features.input!.meanLuma, 0);
    expect(out.contrast / features.input!.contrast).toBeCloseTo(1, 1);
  });
});
