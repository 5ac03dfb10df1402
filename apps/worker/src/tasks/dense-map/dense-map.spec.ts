import sharp from 'sharp';
import { colormapLut } from '@fathom/imaging';
import { DEFAULT_PNG_ENCODING } from '../../imaging/png-encoding';
import { IMAGENET_MEAN, IMAGENET_STD, type InputSpec } from '@fathom/models';
import { encodeDenseMap, normalizeDenseMap, resizeDenseMap } from './dense-map.postprocess';
import { buildInputTensor } from '../model-input.preprocess';

const input = (layout: 'NCHW' | 'NHWC'): InputSpec => ({
  name: 'pixel_values',
  layout,
  channels: 'RGB',
  resize: { mode: 'fixed', width: 4, height: 2 },
  mean: IMAGENET_MEAN,
  std: IMAGENET_STD,
});

describe('dense-map pre-processing', () => {
  const rgb = { data: Buffer.from(Array.from({ length: 8 }, () => [255, 0, 51]).flat()), width: 4, height: 2 };
  const expected = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0.2 - 0.406) / 0.225];

  it('normalises with ImageNet mean/std into NCHW planes', async () => {
    const tensor = await buildInputTensor(rgb, input('NCHW'));
    expect(tensor.dims).toEqual([1, 3, 2, 4]);
    for (let c = 0; c < 3; c++) for (let i = 0; i < 8; i++) expect(tensor.data[c * 8 + i]).toBeCloseTo(expected[c]!, 5);
  });

  it('or interleaved NHWC', async () => {
    const tensor = await buildInputTensor(rgb, input('NHWC'));
    expect(tensor.dims).toEqual([1, 2, 4, 3]);
    for (let i = 0; i < 8; i++) for (let c = 0; c < 3; c++) expect(tensor.data[i * 3 + c]).toBeCloseTo(expected[c]!, 5);
  });

  it('swaps to BGR for models trained on OpenCV images', async () => {
    const tensor = await buildInputTensor(rgb, { ...input('NCHW'), channels: 'BGR', mean: [0, 0, 0], std: [1, 1, 1] });
    expect([tensor.data[0], tensor.data[8], tensor.data[16]]).toEqual([0.2, 0, 1].map((v): unknown => expect.closeTo(v, 5)));
  });

  it('resizes to the planned size first', async () => {
    const tensor = await buildInputTensor(rgb, {
      ...input('NCHW'),
      resize: { mode: 'keep-aspect', multiple: 14, target: 28, fit: 'lower-bound', maxSide: 1000 },
    });
    expect([tensor.width, tensor.height, tensor.data.length]).toEqual([56, 28, 3 * 56 * 28]);
    expect(tensor.data[0]).toBeCloseTo(expected[0]!, 2);
  });
});

describe('dense-map post-processing', () => {
  it('normalises a ramp by its own min/max to the full 16-bit range', () => {
    const { normalized, min, max } = normalizeDenseMap(Float32Array.from([2, 3, 4, 6]), { kind: 'minmax' });
    expect([min, max]).toEqual([2, 6]);
    expect([...normalized]).toEqual([0, 16384, 32768, 65535]);
  });

  it('clamps to a fixed range, and survives constant maps and NaN', () => {
    expect([...normalizeDenseMap(Float32Array.from([-1, 0.5, 2]), { kind: 'fixed', min: 0, max: 1 }).normalized]).toEqual([
      0, 32768, 65535,
    ]);
    expect([...normalizeDenseMap(Float32Array.from([3, 3]), { kind: 'minmax' }).normalized]).toEqual([0, 0]);
    const withNaN = normalizeDenseMap(Float32Array.from([NaN, 1, 2, Infinity]), { kind: 'minmax' });
    expect([withNaN.min, withNaN.max, ...withNaN.normalized]).toEqual([1, 2, 0, 0, 65535, 0]);
    const fixed = normalizeDenseMap(Float32Array.from([Infinity, -Infinity, NaN, 0.25]), { kind: 'fixed', min: 0, max: 1 });
    expect([...fixed.normalized]).toEqual([0, 0, 0, 16384]);
  });

  it('resizes back to the input size keeping 16 bits and the ramp’s order', async () => {
    const map = await resizeDenseMap(
      Uint16Array.from([0, 20000, 40000, 65535, 0, 20000, 40000, 65535]),
      { width: 4, height: 2 },
      { width: 8, height: 4 },
    );
    expect(map).toHaveLength(32);
    const row = [...map.subarray(0, 8)];
    expect(row).toEqual([...row].sort((a, b) => a - b));
    expect(row.some((v) => v % 257 !== 0 && v > 255)).toBe(true);
  });

  const ramp = Uint16Array.from({ length: 256 }, (_, i) => i * 257);
  const size = { width: 256, height: 1 };

  it('encodes 8-bit grayscale with near (large) bright', async () => {
    const { png, contentType } = await encodeDenseMap(ramp, size, size, { output: 'grayscale', colormap: 'turbo' }, DEFAULT_PNG_ENCODING);
    expect(contentType).toBe('image/png');
    const meta = await sharp(png).metadata();
    expect([meta.channels, meta.depth]).toEqual([1, 'uchar']);
    const { data } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    expect([...data]).toEqual(Array.from({ length: 256 }, (_, i) => i));
  });

  it('round-trips raw16 exactly', async () => {
    const values = Uint16Array.from([0, 1, 12345, 65535]);
    const { png } = await encodeDenseMap(
      values,
      { width: 4, height: 1 },
      { width: 4, height: 1 },
      { output: 'raw16', colormap: 'turbo' },
      DEFAULT_PNG_ENCODING,
    );
    const data = await sharp(png).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer();
    expect([...new Uint16Array(data.buffer, data.byteOffset, 4)]).toEqual([0, 1, 12345, 65535]);
  });

  it('colours each value through the named colormap', async () => {
    const { png } = await encodeDenseMap(ramp, size, size, { output: 'colormap', colormap: 'magma' }, DEFAULT_PNG_ENCODING);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(3);
    expect(Buffer.from(data).equals(Buffer.from(colormapLut('magma')))).toBe(true);
  });

  it('enlarges a map from the model size as it encodes, within one grey level of enlarging 16 bits first', async () => {
    const model = { width: 4, height: 2 };
    const input = { width: 8, height: 4 };
    const map = Uint16Array.from([0, 20000, 40000, 65535, 0, 20000, 40000, 65535]);
    const { png } = await encodeDenseMap(map, model, input, { output: 'grayscale', colormap: 'turbo' }, DEFAULT_PNG_ENCODING);
    const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([8, 4]);
    const wide = await resizeDenseMap(map, model, input);
    for (let i = 0; i < wide.length; i++) expect(Math.abs(data[i]! - Math.round(wide[i]! / 257))).toBeLessThanOrEqual(1);
    expect([data[0], data[7]]).toEqual([0, 255]);
    // The colormapped result is the enlarged grey map through the colormap, pixel for pixel.
    const coloured = await encodeDenseMap(map, model, input, { output: 'colormap', colormap: 'viridis' }, DEFAULT_PNG_ENCODING);
    const rgb = await sharp(coloured.png).raw().toBuffer({ resolveWithObject: true });
    expect([rgb.info.width, rgb.info.height, rgb.info.channels]).toEqual([8, 4, 3]);
    const lut = colormapLut('viridis');
    expect([...rgb.data]).toEqual([...data].flatMap((g) => [lut[g * 3], lut[g * 3 + 1], lut[g * 3 + 2]]));
  });

  it('writes the same pixels at every PNG level, smaller at a higher one', async () => {
    const side = 128;
    const smooth = Uint16Array.from({ length: side * side }, (_, i) =>
      Math.round(((i % side) + Math.floor(i / side)) * (65535 / (2 * side))),
    );
    const size = { width: side, height: side };
    const encode = (compressionLevel: number) =>
      encodeDenseMap(smooth, size, size, { output: 'colormap', colormap: 'turbo' }, { compressionLevel });
    const [fast, small] = await Promise.all([encode(0), encode(9)]);
    expect(small.png.length).toBeLessThan(fast.png.length);
    const [a, b] = await Promise.all([fast, small].map(({ png }) => sharp(png).raw().toBuffer()));
    expect(a!.equals(b!)).toBe(true);
  });
});
