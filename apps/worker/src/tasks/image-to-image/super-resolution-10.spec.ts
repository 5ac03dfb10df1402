import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import sharp from 'sharp';
import { readManifestFile, specsFromManifest, type ModelSpec } from '@fathom/models';
import { hasShared, repoRoot, runOnnx, sharedPath } from '@fathom/testing';
import { DEFAULT_PNG_ENCODING } from '../../imaging/png-encoding';
import { finishTask, prepareTaskInput } from '../task-registry';

const MODEL = 'models/image-to-image/super-resolution-10.onnx';
const INPUT = 'models/image-to-image/super_resolution_10_test_data_set_0/input_0.pb';
const present = hasShared(MODEL) && hasShared(INPUT) && hasShared('fixtures/images/cc0_chelsea_cat.png');
if (!present) console.warn(`skipping the super-resolution-10 tests: ../shared/${MODEL} or its test data set or the cat photo is absent`);

/** The ONNX test data set's input: a TensorProto of Y in [0, 1], [1, 1, 224, 224]. */
function referenceInput(): { data: Float32Array; dims: number[] } {
  const tensor = onnx.TensorProto.decode(readFileSync(sharedPath(INPUT)));
  const dims = tensor.dims.map(Number);
  const raw = tensor.rawData;
  const data =
    raw && raw.length > 0
      ? new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))
      : Float32Array.from(tensor.floatData);
  return { data, dims };
}

const toByte = (v: number) => Math.min(255, Math.max(0, Math.round(v * 255)));

(present ? describe : describe.skip)('super-resolution-10 through the image-to-image task', () => {
  let spec: ModelSpec;
  beforeAll(() => {
    // The documented example manifest, pointed at the real weights.
    const manifest = readManifestFile(join(repoRoot(), 'docs/examples/models/super-resolution-10.model.yaml'));
    [spec] = specsFromManifest(
      { ...manifest, weights: { path: sharedPath(MODEL) } },
      { manifestFile: 'super-resolution-10.model.yaml', cacheDir: '/nonexistent' },
    ) as [ModelSpec];
  });

  it('gives the model’s own test input, as an 8-bit grey PNG, the Y onnxruntime gives the same tensor (within 1 level)', async () => {
    const { data, dims } = referenceInput();
    expect(dims).toEqual([1, 1, 224, 224]);
    const grey = Buffer.from(Array.from(data, toByte));
    const png = await sharp(grey, { raw: { width: 224, height: 224, channels: 1 } })
      .png()
      .toBuffer();

    // The same tensor Fathom gives the model: the 8-bit levels over 255.
    const quantised = Float32Array.from(grey, (v) => v / 255);
    const direct = (await runOnnx(spec.weights, { input: { data: quantised, dims } })).output!;
    expect(direct.dims).toEqual([1, 1, 672, 672]);

    const prepared = await prepareTaskInput(png, spec, { maxPixels: 40e6 });
    expect(prepared.tensor.dims).toEqual([1, 1, 224, 224]);
    let inputDiff = 0;
    for (let i = 0; i < quantised.length; i++) inputDiff = Math.max(inputDiff, Math.abs(prepared.tensor.data[i]! - quantised[i]!));
    expect(inputDiff).toBeLessThan(1e-6);

    const { output } = await runOnnx(spec.weights, { input: prepared.tensor });
    const result = await finishTask(spec, prepared, { options: {}, output: output!, png: DEFAULT_PNG_ENCODING });
    expect(result.summary).toEqual({
      task: 'image-to-image',
      scale: 3,
      input: { width: 224, height: 224 },
      output: { width: 672, height: 672 },
      tiles: 1,
      modelInput: { width: 224, height: 224 },
    });
    const enlarged = await sharp(result.artifacts[0]!.bytes).raw().toBuffer({ resolveWithObject: true });
    expect([enlarged.info.width, enlarged.info.height, enlarged.info.channels]).toEqual([672, 672, 3]);

    let worst = 0;
    let notGrey = 0;
    let fromOriginal = 0;
    const original = (await runOnnx(spec.weights, { input: { data, dims } })).output!;
    for (let i = 0; i < 672 * 672; i++) {
      const [r, g, b] = [enlarged.data[i * 3]!, enlarged.data[i * 3 + 1]!, enlarged.data[i * 3 + 2]!];
      if (r !== g || g !== b) notGrey++;
      worst = Math.max(worst, Math.abs(r - toByte(direct.data[i]!)));
      fromOriginal += Math.abs(r - original.data[i]! * 255);
    }
    console.log(
      `super-resolution-10: worst difference from onnxruntime on the same tensor ${worst} level(s); ` +
        `mean difference from its output on the unrounded test input ${(fromOriginal / (672 * 672)).toFixed(3)} levels ` +
        '(input_0 is not on 8-bit levels; rounding it to them moves the answer by that much)',
    );
    expect(notGrey).toBe(0);
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('stitches tiles without seams: two different tile plans give the same pixels', async () => {
    const upload = readFileSync(sharedPath('fixtures/images/cc0_chelsea_cat.png'));
    const enlarge = async (overlap: number) => {
      const tiled: ModelSpec = { ...spec, tiling: { maxTiles: 64, overlap } };
      const prepared = await prepareTaskInput(upload, tiled, { maxPixels: 40e6 });
      const { output } = await runOnnx(tiled.weights, { input: prepared.tensor });
      const result = await finishTask(tiled, prepared, { options: {}, output: output!, png: DEFAULT_PNG_ENCODING });
      return { summary: result.summary, pixels: await sharp(result.artifacts[0]!.bytes).raw().toBuffer() };
    };
    // 451×300 in 224-pixel tiles: 3 × 2 tiles overlapping by ≥ 16 px, or 4 × 2 overlapping by ≥ 112 px.
    const [few, many] = [await enlarge(16), await enlarge(112)];
    expect([few.summary, many.summary]).toMatchObject([{ tiles: 6 }, { tiles: 8 }]);
    let differing = 0;
    for (let i = 0; i < few.pixels.length; i++) if (few.pixels[i] !== many.pixels[i]) differing++;
    expect(differing).toBe(0);
  });
});
