import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { TaskOutputFeatures, TaskSummary } from '@fathom/contracts';
import { NO_BATCHING, type ModelSpec, type ResizeSpec, type TilingSpec } from '@fathom/models';
import { buildUpscaleStandInModel, runOnnx, writeModel } from '@fathom/testing';
import { imageToImageOutputFeatures } from '../../features/output-features';
import { pixelStats } from '../../features/input-features';
import { DEFAULT_PNG_ENCODING } from '../../imaging/png-encoding';
import { finishTask, prepareTaskInput } from '../task-registry';

const dir = mkdtempSync(join(tmpdir(), 'fathom-i2i-'));

function spec(weights: string, resize: ResizeSpec, tiling?: TilingSpec, channels: 'Y' | 'RGB' | 'BGR' = 'Y'): ModelSpec {
  return {
    name: 'upscale',
    version: '1',
    task: 'image-to-image',
    weights,
    source: { kind: 'path', path: weights },
    manifestFile: 'upscale.model.yaml',
    batching: NO_BATCHING,
    ...(tiling ? { tiling } : {}),
    input: { name: 'input', layout: 'NCHW', channels, resize, mean: [0, 0, 0], std: [1, 1, 1] },
    output: { name: 'output', layout: 'NCHW', kind: 'values', range: { kind: 'fixed', min: 0, max: 1 } },
  };
}

/** Upload bytes → the task's PNG (decoded to RGB) and summary, with the model run as the worker runs it. */
async function enlarge(model: ModelSpec, upload: Buffer) {
  const prepared = await prepareTaskInput(upload, model, { maxPixels: 40e6 });
  const { output } = await runOnnx(model.weights, { input: prepared.tensor });
  const result = await finishTask(model, prepared, { options: {}, output: output!, png: DEFAULT_PNG_ENCODING });
  const artifact = result.artifacts[0]!;
  const png = await sharp(artifact.bytes).raw().toBuffer({ resolveWithObject: true });
  return { prepared, result, artifact, png, summary: result.summary as TaskSummary<'image-to-image'> };
}

/** A 100×70 image: grey ramps, or a smooth colour field. */
function upload(colour: boolean): Promise<Buffer> {
  const width = 100;
  const height = 70;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      const grey = (x * 2 + y * 3) % 256;
      pixels[p] = colour ? 40 + x * 2 : grey;
      pixels[p + 1] = colour ? 200 - y * 2 : grey;
      pixels[p + 2] = colour ? 90 + ((x + y) % 60) : grey;
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

describe('image-to-image: an upload enlarged by the model, tile by tile', () => {
  const fixed32: ResizeSpec = { mode: 'fixed', width: 32, height: 32 };
  let tiled: string;
  let dynamic: string;
  let colour: string;
  beforeAll(() => {
    colour = writeModel(dir, 'upscale-rgb-32.onnx', buildUpscaleStandInModel({ tile: 32, scale: 2, channels: 3 }));
    tiled = writeModel(dir, 'upscale-32.onnx', buildUpscaleStandInModel({ tile: 32, scale: 3 }));
    dynamic = writeModel(dir, 'upscale-any.onnx', buildUpscaleStandInModel({ tile: 'dynamic', scale: 3 }));
  });

  it('returns a PNG 3× the upload whose every pixel is the source pixel’s (a grey image stays grey)', async () => {
    const source = await upload(false);
    const { prepared, result, artifact, png, summary } = await enlarge(spec(tiled, fixed32, { maxTiles: 99, overlap: 8 }), source);
    expect([artifact.name, artifact.contentType, artifact.width, artifact.height]).toEqual(['image', 'image/png', 300, 210]);
    expect(summary).toEqual({
      task: 'image-to-image',
      scale: 3,
      input: { width: 100, height: 70 },
      output: { width: 300, height: 210 },
      tiles: 12,
      modelInput: { width: 32, height: 32 },
    });
    const { data: original } = await sharp(source).raw().toBuffer({ resolveWithObject: true });
    let wrong = 0;
    for (let y = 0; y < 210; y++) {
      for (let x = 0; x < 300; x++) {
        const from = (Math.floor(y / 3) * 100 + Math.floor(x / 3)) * 3;
        for (let c = 0; c < 3; c++) if (png.data[(y * 300 + x) * 3 + c] !== original[from + c]) wrong++;
      }
    }
    expect(wrong).toBe(0);
    // The prediction log's features: the input's on the decoded upload the tiles are cut from, the
    // output's on the returned pixels; every pixel repeated 3 × 3 keeps the mean and contrast.
    expect(prepared.forFeatures.pixels).toMatchObject({ width: 100, height: 70, data: original });
    const features = result.features() as TaskOutputFeatures<'image-to-image'>;
    expect(features).toEqual(imageToImageOutputFeatures({ data: png.data, width: 300, height: 210 }, 3));
    const source100 = pixelStats({ data: original, width: 100, height: 70 });
    expect(features).toMatchObject({ task: 'image-to-image', width: 300, height: 210, scale: 3 });
    // The 300×210 output is described at the working size, 256×179 (the 100×70 source as it is):
    // blocks there straddle the 3 × 3 repeats, so the mean and contrast match to a fraction of a level.
    expect(features.meanLuma).toBeCloseTo(source100.meanLuma, 0);
    expect(features.contrast / source100.contrast).toBeCloseTo(1, 2);
  });

  it('keeps the colours: Y from the model, Cb and Cr enlarged bicubically', async () => {
    const source = await upload(true);
    const { png } = await enlarge(spec(tiled, fixed32, { maxTiles: 99, overlap: 8 }), source);
    const back = await sharp(png.data, { raw: { width: 300, height: 210, channels: 3 } })
      .resize(100, 70, { kernel: 'cubic' })
      .raw()
      .toBuffer();
    const { data: original } = await sharp(source).raw().toBuffer({ resolveWithObject: true });
    let sum = 0;
    for (let i = 0; i < original.length; i++) sum += Math.abs(back[i]! - original[i]!);
    console.log(`colour field ×3 and back: mean absolute difference ${(sum / original.length).toFixed(2)} levels`);
    expect(sum / original.length).toBeLessThan(2);
  });

  it('takes a three-channel model’s colours straight from it, in the manifest’s channel order', async () => {
    const source = await upload(true);
    const { data: original } = await sharp(source).raw().toBuffer({ resolveWithObject: true });
    for (const channels of ['RGB', 'BGR'] as const) {
      const { png, summary } = await enlarge(spec(colour, fixed32, { maxTiles: 99, overlap: 8 }, channels), source);
      expect(summary).toMatchObject({ scale: 2, output: { width: 200, height: 140 } });
      let wrong = 0;
      for (let y = 0; y < 140; y++) {
        for (let x = 0; x < 200; x++) {
          const from = (Math.floor(y / 2) * 100 + Math.floor(x / 2)) * 3;
          for (let c = 0; c < 3; c++) if (png.data[(y * 200 + x) * 3 + c] !== original[from + c]) wrong++;
        }
      }
      expect(`${channels}: ${wrong} wrong`).toBe(`${channels}: 0 wrong`);
    }
  });

  it('shrinks an upload that needs more tiles than the manifest allows, and says so', async () => {
    const { artifact, summary } = await enlarge(spec(tiled, fixed32, { maxTiles: 2, overlap: 8 }), await upload(false));
    // 2 tiles: 2 × 1 covers 56 × 32 (scale 32/70 of the height), 1 × 2 covers 32 × 56 (32/100): 45 × 32.
    expect(summary).toMatchObject({ shrunkFrom: { width: 100, height: 70 }, input: { width: 45, height: 32 }, tiles: 2 });
    expect(summary.output).toEqual({ width: 135, height: 96 });
    expect([artifact.width, artifact.height]).toEqual([135, 96]);
  });

  it('gives a model with dynamic height and width the whole image (resized only by its keep-aspect plan)', async () => {
    const whole: ResizeSpec = { mode: 'keep-aspect', multiple: 1, target: 64, fit: 'upper-bound', maxSide: 64 };
    const { summary } = await enlarge(spec(dynamic, whole), await upload(false));
    expect(summary).toMatchObject({ tiles: 1, scale: 3, input: { width: 64, height: 45 }, output: { width: 192, height: 135 } });
    const roomy: ResizeSpec = { ...whole, target: 512, maxSide: 512 };
    expect((await enlarge(spec(dynamic, roomy), await upload(false))).summary).toEqual({
      task: 'image-to-image',
      scale: 3,
      input: { width: 100, height: 70 },
      output: { width: 300, height: 210 },
      tiles: 1,
      modelInput: { width: 100, height: 70 },
    });
  });
});
