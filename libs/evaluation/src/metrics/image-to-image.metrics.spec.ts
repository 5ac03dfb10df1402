import { imageToImageScorer, psnr, PSNR_CAP_DB, ssim } from './image-to-image.metrics';
import type { ImagePixels } from '../types';

const image = (width: number, height: number, channels: 1 | 3, value: (i: number) => number): ImagePixels => ({
  width,
  height,
  channels,
  pixels: Uint8Array.from({ length: width * height * channels }, (_, i) => value(i)),
});
/** A 16 × 16 RGB pattern with texture everywhere. */
const pattern = image(16, 16, 3, (i) => (i * 37 + (i >> 4) * 11) % 256);

describe('image-to-image metrics', () => {
  it('give the PSNR of a known MSE', () => {
    // Every byte off by 5: MSE 25, PSNR = 10·log10(255² / 25).
    const truth = image(4, 4, 3, () => 100);
    const prediction = image(4, 4, 3, () => 105);
    expect(psnr(prediction, truth)).toBeCloseTo(10 * Math.log10((255 * 255) / 25), 12);
    // One byte of 48 off by 48: MSE 48.
    expect(
      psnr(
        image(4, 4, 3, (i) => (i === 0 ? 148 : 100)),
        truth,
      ),
    ).toBeCloseTo(10 * Math.log10((255 * 255) / 48), 12);
  });

  it('score a colour result against a grey target on its luma: a grey photo returned as RGB is a perfect answer', () => {
    const grey = image(16, 16, 1, (i) => (i * 37) % 256);
    const asRgb = image(16, 16, 3, (i) => grey.pixels[Math.floor(i / 3)]!);
    expect(imageToImageScorer.score(asRgb, grey, {}).metrics).toEqual({ psnr: PSNR_CAP_DB, ssim: 1 });
    // Off by 5 in every channel: the luma is off by 5 too.
    const brighter = image(16, 16, 3, (i) => grey.pixels[Math.floor(i / 3)]! + 5 - (grey.pixels[Math.floor(i / 3)]! > 250 ? 10 : 0));
    expect(imageToImageScorer.score(brighter, grey, {}).metrics['psnr']).toBeCloseTo(10 * Math.log10((255 * 255) / 25), 9);
  });

  it('cap the PSNR of identical images at 100 dB, which JSON can carry', () => {
    expect(psnr(pattern, pattern)).toBe(PSNR_CAP_DB);
  });

  it('give SSIM 1 for identical images and less for a noisy one', () => {
    expect(ssim(pattern, pattern)).toBeCloseTo(1, 12);
    const noisy = { ...pattern, pixels: pattern.pixels.map((v, i) => Math.min(255, v + ((i * 7) % 61))) };
    expect(ssim(noisy, pattern)).toBeLessThan(0.99);
    expect(ssim(noisy, pattern)).toBeGreaterThan(0);
  });

  it('give the SSIM of a flat image against a brighter flat image from luminance alone', () => {
    // No variance anywhere: SSIM = (2·μx·μy + C1) / (μx² + μy² + C1) with C1 = (0.01·255)².
    const c1 = (0.01 * 255) ** 2;
    const expected = (2 * 100 * 120 + c1) / (100 ** 2 + 120 ** 2 + c1);
    expect(
      ssim(
        image(12, 11, 1, () => 120),
        image(12, 11, 1, () => 100),
      ),
    ).toBeCloseTo(expected, 12);
  });

  it('refuse SSIM on an image smaller than its 11 × 11 window, and images of different shapes', () => {
    expect(() =>
      ssim(
        image(10, 20, 1, () => 0),
        image(10, 20, 1, () => 0),
      ),
    ).toThrow(/at least 11 × 11/);
    expect(() =>
      psnr(
        image(4, 4, 1, () => 0),
        image(4, 4, 3, () => 0),
      ),
    ).toThrow(/1 channels but its target has 3/);
  });

  it('aggregate the mean PSNR and SSIM and rank by PSNR', () => {
    const worse = imageToImageScorer.score(
      image(16, 16, 3, () => 0),
      pattern,
      {},
    );
    const same = imageToImageScorer.score(pattern, pattern, {});
    expect(same.metrics).toEqual({ psnr: 100, ssim: expect.closeTo(1, 12) });
    const aggregate = imageToImageScorer.aggregate([worse.stats, same.stats]);
    expect(aggregate.metrics.psnr).toBeCloseTo((worse.stats.psnr + 100) / 2, 12);
    expect(imageToImageScorer.rank(worse)).toBeLessThan(imageToImageScorer.rank(same));
  });
});
