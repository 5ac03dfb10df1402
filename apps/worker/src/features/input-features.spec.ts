import { inputFeaturesSchema, HISTOGRAM_LENGTH } from '@fathom/contracts';
import { imageStats, inputFeatures, pixelStats, type RgbPixels } from './input-features';
import { boxDownsample } from './working-size';

/** An image whose pixel at (x, y) is colour(x, y). */
function image(width: number, height: number, colour: (x: number, y: number) => readonly [number, number, number]): RgbPixels {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(colour(x, y), (y * width + x) * 3);
  return { data, width, height };
}

const grey = (v: number) => [v, v, v] as const;
/** The histogram with these [index, share] entries and 0 elsewhere. */
const histogramOf = (entries: Array<[number, number]>) => {
  const bins = new Array<number>(HISTOGRAM_LENGTH).fill(0);
  for (const [index, share] of entries) bins[index] = share;
  return bins;
};

describe('input features of an image', () => {
  it('a flat grey image has no contrast, sharpness, saturation or colourfulness, and one bin per channel', () => {
    const stats = pixelStats(image(5, 4, () => grey(128)));
    expect(stats).toEqual({
      meanLuma: 128,
      contrast: 0,
      sharpness: 0,
      colourfulness: 0,
      saturation: 0,
      clipped: 0,
      // 128 is in bin 4 (128…159) of R (0–7), G (8–15) and B (16–23).
      histogram: histogramOf([
        [4, 1],
        [12, 1],
        [20, 1],
      ]),
    });
  });

  it('a one-pixel black-and-white checkerboard: Laplacian ±1020 on every interior pixel, variance 1020²', () => {
    // 6×6: 16 interior pixels, 8 white (4·0 − 4·255 = −1020) and 8 black (+1020), mean 0.
    const stats = pixelStats(image(6, 6, (x, y) => grey((x + y) % 2 === 0 ? 255 : 0)));
    expect(stats.sharpness).toBe(1020 * 1020);
    expect(stats.contrast).toBe(127.5);
    expect(stats.meanLuma).toBe(127.5);
    expect(stats.clipped).toBe(1);
  });

  it('a pure red image: colourfulness 0.3·√(255² + 127.5²) ≈ 85.5296 (rg = 255, yb = 127.5, no spread), saturation 1, luma 0.299·255', () => {
    const stats = pixelStats(image(3, 3, () => [255, 0, 0]));
    expect(stats.colourfulness).toBeCloseTo(0.3 * Math.sqrt(255 ** 2 + 127.5 ** 2), 9);
    expect(stats.colourfulness).toBeCloseTo(85.5296, 4);
    expect(stats.saturation).toBe(1);
    expect(stats.meanLuma).toBeCloseTo(76.245, 9);
  });

  it('half red, half green: σ_rg = 255 and μ_yb = 127.5, so colourfulness 255 + 0.3·127.5', () => {
    const stats = pixelStats(image(4, 2, (x) => (x < 2 ? [255, 0, 0] : [0, 255, 0])));
    expect(stats.colourfulness).toBeCloseTo(255 + 0.3 * 127.5, 9);
  });

  it('saturation is the mean of HSV (max − min) / max, black counting 0', () => {
    const stats = pixelStats(image(2, 1, (x) => (x === 0 ? [200, 100, 100] : [0, 0, 0])));
    expect(stats.saturation).toBeCloseTo(0.25, 12);
  });

  it('saturation is right whichever channel is largest or smallest', () => {
    const orders = [
      [30, 120, 240],
      [30, 240, 120],
      [120, 30, 240],
      [120, 240, 30],
      [240, 30, 120],
      [240, 120, 30],
      [90, 90, 180],
      [180, 90, 90],
    ] as const;
    for (const colour of orders) {
      const expected = (Math.max(...colour) - Math.min(...colour)) / Math.max(...colour);
      expect(pixelStats(image(1, 1, () => colour)).saturation).toBeCloseTo(expected, 12);
    }
  });

  it('half black, half mid-grey: half the pixels are clipped', () => {
    expect(pixelStats(image(4, 4, (x) => grey(x < 2 ? 0 : 128))).clipped).toBe(0.5);
  });

  it('clipped means luma ≤ 2 or ≥ 253', () => {
    const values = [2, 3, 252, 253];
    const stats = pixelStats(image(values.length, 1, (x) => grey(values[x]!)));
    expect(stats.clipped).toBe(0.5);
  });

  it('a two-colour image fills two bins per channel, each half', () => {
    const stats = pixelStats(image(2, 2, (x) => (x === 0 ? [10, 100, 250] : [40, 200, 0])));
    expect(stats.histogram).toEqual(
      histogramOf([
        [0, 0.5], // R 10
        [1, 0.5], // R 40
        [8 + 3, 0.5], // G 100
        [8 + 6, 0.5], // G 200
        [16 + 0, 0.5], // B 0
        [16 + 7, 0.5], // B 250
      ]),
    );
  });

  it('refuses pixels that do not fill the stated size', () => {
    expect(() => pixelStats({ data: new Uint8Array(5), width: 2, height: 1 })).toThrow('expected 2×1 RGB pixels (6 bytes), got 5 bytes');
  });

  it('the upload’s facts come from its metadata; the contract accepts the result', () => {
    const features = inputFeatures(
      image(8, 6, (x, y) => [x * 30, y * 40, 90]),
      { bytes: 12345, format: 'jpeg', width: 1000, height: 500 },
    );
    expect(features).toMatchObject({ bytes: 12345, format: 'jpeg', width: 1000, height: 500, megapixels: 0.5, orientation: 1 });
    expect(inputFeaturesSchema.parse(features)).toEqual(features);
    const rotated = inputFeatures(
      image(2, 2, () => grey(7)),
      { bytes: 1, format: 'png', width: 2, height: 2, orientation: 6 },
    );
    expect(inputFeaturesSchema.parse(rotated).orientation).toBe(6);
  });
});

describe('input features describe the image at ≤ 256 px a side, whatever its size', () => {
  /** A photo-like 1024×768: smooth gradients, a bright disc with an edge, and a one-pixel ±6 checkerboard texture. */
  const large = image(1024, 768, (x, y) => {
    const texture = ((x + y) % 2) * 12 - 6;
    const disc = (x - 600) ** 2 + (y - 300) ** 2 < 150 ** 2 ? 80 : 0;
    const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
    return [clamp(x / 5 + disc + texture), clamp(y / 4 + texture), clamp(120 + disc / 2 - texture)];
  });

  it('a large flat image stays flat: its luma, no contrast or sharpness, one bin per channel', () => {
    const stats = imageStats(image(2000, 1500, () => [200, 100, 50]));
    expect(stats).toMatchObject({
      contrast: 0,
      sharpness: 0,
      clipped: 0,
      meanLuma: expect.closeTo(124.2, 9),
      saturation: expect.closeTo(0.75, 9),
    });
    expect(stats.histogram).toEqual(
      histogramOf([
        [200 >> 5, 1],
        [8 + (100 >> 5), 1],
        [16 + (50 >> 5), 1],
      ]),
    );
  });

  it('an image within 256 px is described as it is', () => {
    const small = image(200, 150, (x, y) => [x, y, (x * y) % 256]);
    expect(imageStats(small)).toEqual(pixelStats(small));
  });

  it('a large image and its 2× box-reduced copy get close features (both are reduced to 256×192 first)', () => {
    const half = boxDownsample(large, 512);
    expect([half.width, half.height]).toEqual([512, 384]);
    const a = imageStats(large);
    const b = imageStats(half);
    // The copy's pixels were rounded to 8 bits once more on the way: within one level per channel.
    expect(Math.abs(a.meanLuma - b.meanLuma)).toBeLessThan(1);
    for (const name of ['contrast', 'sharpness', 'colourfulness', 'saturation'] as const) {
      expect({ name, ratio: b[name] / a[name] }).toEqual({ name, ratio: expect.closeTo(1, 2) });
    }
    expect(Math.abs(a.clipped - b.clipped)).toBeLessThan(0.01);
    a.histogram.forEach((share, i) => expect(Math.abs(share - b.histogram[i]!)).toBeLessThan(0.01));
  });

  it('sharpness is measured at that one scale: unlike at full size, the large image and its copy agree', () => {
    // At their own sizes the one-pixel texture makes the large image look far sharper than its copy (which averaged it away).
    const full = pixelStats(large).sharpness;
    const halfFull = pixelStats(boxDownsample(large, 512)).sharpness;
    expect(full / halfFull).toBeGreaterThan(100);
    expect(imageStats(large).sharpness / imageStats(boxDownsample(large, 512)).sharpness).toBeCloseTo(1, 2);
  });
});
