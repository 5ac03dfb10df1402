import { boxDownsample, type RgbPixels } from './working-size';

/** An image whose pixel at (x, y) is colour(x, y). */
function image(width: number, height: number, colour: (x: number, y: number) => readonly [number, number, number]): RgbPixels {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(colour(x, y), (y * width + x) * 3);
  return { data, width, height };
}

describe('an image brought to the features’ working size (within 256 × 256, by area average)', () => {
  it('is left as it is when it already fits', () => {
    const small = image(256, 100, (x, y) => [x, y, 7]);
    expect(boxDownsample(small, 256)).toBe(small);
  });

  it('keeps its aspect and is never enlarged: 1000×10 becomes 256×3, 10×1000 becomes 3×256', () => {
    const wide = boxDownsample(
      image(1000, 10, () => [1, 2, 3]),
      256,
    );
    const tall = boxDownsample(
      image(10, 1000, () => [1, 2, 3]),
      256,
    );
    expect([wide.width, wide.height, tall.width, tall.height]).toEqual([256, 3, 3, 256]);
  });

  it('a flat image stays exactly flat, whatever the blocks’ sizes', () => {
    const { data, width, height } = boxDownsample(
      image(999, 777, () => [17, 200, 93]),
      256,
    );
    expect([width, height]).toEqual([256, 199]);
    expect(data.length).toBe(256 * 199 * 3);
    for (let p = 0; p < data.length; p += 3) {
      if (data[p] !== 17 || data[p + 1] !== 200 || data[p + 2] !== 93)
        throw new Error(`pixel ${p / 3} is ${data.subarray(p, p + 3).join(',')}`);
    }
  });

  it('each pixel of a 2× reduction is its 2×2 block’s mean, rounded half up', () => {
    // 512×4 → 256×2. Block (bx, by) holds x-values 2bx, 2bx+1 and rows 2by, 2by+1: R is the column
    // mod 256 (mean of 2bx and 2bx+1 is 2bx + ½, rounded up), G the row ×10 (mean 20by + 5), B 0 or 1
    // on alternate columns (mean ½: 1).
    const { data, width, height } = boxDownsample(
      image(512, 4, (x, y) => [x % 256, 10 * y, x % 2]),
      256,
    );
    expect([width, height]).toEqual([256, 2]);
    const at = (x: number, y: number) => Array.from(data.subarray((y * 256 + x) * 3, (y * 256 + x) * 3 + 3));
    expect(at(0, 0)).toEqual([1, 5, 1]);
    expect(at(10, 1)).toEqual([21, 25, 1]);
    expect(at(200, 1)).toEqual([(400 % 256) + 1, 25, 1]);
  });

  it('refuses pixels that are not what their size says', () => {
    expect(() => boxDownsample({ data: new Uint8Array(10), width: 300, height: 300 }, 256)).toThrow('expected 300×300 RGB pixels');
  });
});
