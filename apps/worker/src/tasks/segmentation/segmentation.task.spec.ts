import sharp from 'sharp';
import { NO_BATCHING, type ModelSpec } from '@fathom/models';
import type { TaskInput } from '../task-pipeline';
import { argmaxClasses, classScores, vocPalette } from './class-maps';
import { segmentationTask } from './segmentation.task';
import { DEFAULT_PNG_ENCODING } from '../../imaging/png-encoding';

const spec = (layout: 'NCHW' | 'NHWC', kind: 'logits' | 'probabilities' = 'logits', labels = ['background', 'cat']): ModelSpec => ({
  name: 'seg',
  version: '1',
  task: 'segmentation',
  weights: '/dev/null',
  source: { kind: 'path', path: '/dev/null' },
  manifestFile: 'test',
  batching: NO_BATCHING,
  input: {
    name: 'input',
    layout: 'NCHW',
    channels: 'RGB',
    resize: { mode: 'fixed', width: 4, height: 2 },
    mean: [0, 0, 0],
    std: [1, 1, 1],
  },
  output: { name: 'output', layout, kind, range: { kind: 'minmax' } },
  labels,
});

/** A 4×2 map whose right 3 columns are class 1 ("cat") and left column class 0. */
const twoClassNchw = { data: Float32Array.from([/* c0 */ 5, 0, 0, 0, 5, 0, 0, 0, /* c1 */ 0, 3, 3, 3, 0, 3, 3, 3]), dims: [1, 2, 2, 4] };
const twoClassNhwc = { data: Float32Array.from([5, 0, 0, 3, 0, 3, 0, 3, 5, 0, 0, 3, 0, 3, 0, 3]), dims: [1, 2, 4, 2] };
const rgb = { data: Buffer.alloc(4 * 2 * 3, 100), width: 4, height: 2 };

function input(output: { data: Float32Array; dims: number[] }, s: ModelSpec, opacity = 0.5): TaskInput<'segmentation'> {
  return {
    spec: s,
    image: { width: 4, height: 2 },
    rgb,
    modelInput: { width: 4, height: 2 },
    options: { output: 'mask', opacity },
    output,
    png: DEFAULT_PNG_ENCODING,
  };
}

async function artifactPixels(png: Uint8Array): Promise<{ data: Buffer; channels: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, channels: info.channels };
}

describe('segmentation', () => {
  it('reads class scores in NCHW and NHWC alike', () => {
    expect([...argmaxClasses(classScores(twoClassNchw, 'NCHW'))]).toEqual([0, 1, 1, 1, 0, 1, 1, 1]);
    expect([...argmaxClasses(classScores(twoClassNhwc, 'NHWC'))]).toEqual([0, 1, 1, 1, 0, 1, 1, 1]);
  });

  it('gives the known mask, shares and overlay for a synthetic two-class map', async () => {
    const task = input(twoClassNhwc, spec('NHWC'));
    const result = await segmentationTask.encode(await segmentationTask.postprocess(task), task);
    expect(result.primary).toBe('mask');
    expect(result.summary).toEqual({
      task: 'segmentation',
      classes: [
        { index: 1, label: 'cat', share: 0.75 },
        { index: 0, label: 'background', share: 0.25 },
      ],
      modelInput: { width: 4, height: 2 },
    });
    const byName = Object.fromEntries(result.artifacts.map((a) => [a.name, a]));
    expect(JSON.parse(Buffer.from(byName.shares!.bytes).toString())).toEqual({
      width: 4,
      height: 2,
      classes: [
        { index: 1, label: 'cat', pixels: 6, share: 0.75 },
        { index: 0, label: 'background', pixels: 2, share: 0.25 },
      ],
    });
    const mask = await sharp(byName.mask!.bytes).extractChannel(0).raw().toBuffer();
    expect([...mask]).toEqual([0, 1, 1, 1, 0, 1, 1, 1]);
    // Overlay: background untouched (100), "cat" blended half-way with VOC colour 1 (128, 0, 0).
    const overlay = await artifactPixels(byName.overlay!.bytes);
    expect([...overlay.data.subarray(0, 6)]).toEqual([100, 100, 100, 114, 50, 50]);
    expect([...vocPalette(2).subarray(3)]).toEqual([128, 0, 0]);
    // Cut-out: background transparent, the rest opaque.
    const cutout = await artifactPixels(byName.cutout!.bytes);
    expect(cutout.channels).toBe(4);
    expect([cutout.data[3], cutout.data[7]]).toEqual([0, 255]);
    // The prediction log's features: the same shares, by label.
    expect(result.features()).toEqual({
      task: 'segmentation',
      shares: { cat: 0.75, background: 0.25 },
      topLabel: 'cat',
      topShare: 0.75,
      classesPresent: 2,
    });
  });

  it('resizes the class map back to the input with nearest-neighbour, so no class is invented', async () => {
    const big = { data: Buffer.alloc(8 * 4 * 3, 100), width: 8, height: 4 };
    const task = { ...input(twoClassNchw, spec('NCHW')), rgb: big };
    const { classes } = await segmentationTask.postprocess(task);
    expect(classes).toHaveLength(32);
    expect(new Set(classes)).toEqual(new Set([0, 1]));
    expect([...classes.subarray(0, 8)]).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);
  });

  it('treats one sigmoid channel as foreground: a 0/255 mask and a soft alpha cut-out', async () => {
    const logits = { data: Float32Array.from([-10, 0, 10, 10, -10, 0, 10, 10]), dims: [1, 1, 2, 4] };
    const task = { ...input(logits, spec('NCHW', 'logits', [])), options: { output: 'cutout' as const, opacity: 0.5 } };
    const result = await segmentationTask.encode(await segmentationTask.postprocess(task), task);
    expect(result.primary).toBe('cutout');
    const byName = Object.fromEntries(result.artifacts.map((a) => [a.name, a]));
    expect([...(await sharp(byName.mask!.bytes).extractChannel(0).raw().toBuffer())]).toEqual([0, 255, 255, 255, 0, 255, 255, 255]);
    const cutout = await artifactPixels(byName.cutout!.bytes);
    expect([cutout.data[3], cutout.data[7], cutout.data[11]]).toEqual([0, 128, 255]);
    // No labels in the manifest: the binary model's own two, foreground being 6 of the 8 pixels (sigmoid(0) = ½ counts).
    expect(result.features()).toMatchObject({ shares: { background: 0.25, foreground: 0.75 }, topLabel: 'foreground', classesPresent: 2 });
  });
});
