import { outputFeaturesSchema } from '@fathom/contracts';
import {
  classificationOutputFeatures,
  depthOutputFeatures,
  imageToImageOutputFeatures,
  percentile,
  PERCENTILE_SAMPLE,
  segmentationOutputFeatures,
  textDetectionOutputFeatures,
  unionArea,
} from './output-features';

/** 0, 1, …, n − 1 in a fixed shuffled order (an LCG), so quickselect sees unsorted input. */
function shuffledRamp(n: number): Float32Array {
  const values = Float32Array.from({ length: n }, (_, i) => i);
  let seed = 12345;
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  return values;
}

describe('depth output features', () => {
  it('a ramp 0…99: percentiles interpolate between ranks, the top and bottom tenths are near and far', () => {
    const features = depthOutputFeatures(shuffledRamp(100));
    expect(features).toEqual({
      task: 'depth',
      min: 0,
      max: 99,
      range: 99,
      mean: 49.5,
      p5: expect.closeTo(4.95, 9),
      p50: 49.5,
      p95: expect.closeTo(94.05, 9),
      // ≥ 89.1: 90…99; ≤ 9.9: 0…9.
      near: 0.1,
      far: 0.1,
    });
    expect(outputFeaturesSchema.parse(features)).toEqual(features);
  });

  it('leaves out values that are not finite', () => {
    const features = depthOutputFeatures(Float32Array.from([NaN, 1, 3, Infinity]));
    expect(features).toMatchObject({ min: 1, max: 3, mean: 2, p50: 2 });
  });

  it('a flat map is neither near nor far; an empty one is all zeros', () => {
    expect(depthOutputFeatures(new Float32Array(16).fill(2.5))).toMatchObject({ range: 0, p5: 2.5, p95: 2.5, near: 0, far: 0 });
    expect(depthOutputFeatures(Float32Array.from([NaN]))).toMatchObject({ min: 0, max: 0, mean: 0, near: 0, far: 0 });
  });

  it('a map larger than the percentile sample: percentiles from every k-th value stay within 0.5 % of the exact ones', () => {
    // 2072×518, the largest map the depth model's resize plan gives: a shuffled ramp 0…n − 1.
    const n = 2072 * 518;
    const features = depthOutputFeatures(shuffledRamp(n));
    expect(features).toMatchObject({ min: 0, max: n - 1, mean: (n - 1) / 2, near: expect.closeTo(0.1, 4), far: expect.closeTo(0.1, 4) });
    // Every k-th of shuffled values is a random sample of PERCENTILE_SAMPLE: its quantile's standard
    // error is √(q(1 − q)/m) of the range, under 0.2 % here; 0.5 % is over 2.5 of them.
    expect(PERCENTILE_SAMPLE).toBeLessThan(n);
    for (const [q, got] of [
      [0.05, features.p5],
      [0.5, features.p50],
      [0.95, features.p95],
    ] as const)
      expect(Math.abs(got - q * (n - 1))).toBeLessThan(0.005 * n);
  });

  it('percentile agrees with sorting, on uneven values with repeats', () => {
    const values = Float32Array.from({ length: 1001 }, (_, i) => ((i * 7919) % 211) / 3);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0, 0.05, 0.5, 0.95, 1]) {
      const position = q * (sorted.length - 1);
      const k = Math.floor(position);
      const expected = sorted[k]! + (position - k) * ((sorted[k + 1] ?? sorted[k]!) - sorted[k]!);
      expect(percentile(Float32Array.from(values), q)).toBeCloseTo(expected, 5);
    }
  });
});

describe('segmentation output features', () => {
  it('class shares of the pixels, the largest class, and how many classes are present', () => {
    const features = segmentationOutputFeatures([6, 3, 1, 0], ['background', 'person', 'cat', 'dog']);
    expect(features).toEqual({
      task: 'segmentation',
      shares: { background: 0.6, person: 0.3, cat: 0.1 },
      topLabel: 'background',
      topShare: 0.6,
      classesPresent: 3,
    });
    expect(outputFeaturesSchema.parse(features)).toEqual(features);
  });
});

describe('classification output features', () => {
  it('a uniform distribution over C classes has entropy ln C', () => {
    const features = classificationOutputFeatures(new Array<number>(10).fill(0.1), undefined);
    expect(features.entropy).toBeCloseTo(Math.log(10), 12);
    expect(features).toMatchObject({ topLabel: '0', topProbability: 0.1, classes: 10 });
    expect(outputFeaturesSchema.parse(features)).toEqual(features);
  });

  it('a certain answer has entropy 0 and names its label', () => {
    expect(classificationOutputFeatures([0, 1, 0], ['cat', 'dog', 'bird'])).toEqual({
      task: 'classification',
      topLabel: 'dog',
      topProbability: 1,
      entropy: 0,
      classes: 3,
    });
  });

  it('entropy is over the vector normalised to sum 1 (sigmoid outputs do not)', () => {
    expect(classificationOutputFeatures([0.5, 0.5, 0.5, 0.5], undefined).entropy).toBeCloseTo(Math.log(4), 12);
  });
});

describe('text detection output features', () => {
  const box = (x0: number, y0: number, x1: number, y1: number, score: number) => ({
    points: [
      [x0, y0],
      [x1, y0],
      [x1, y1],
      [x0, y1],
    ] as Array<[number, number]>,
    score,
  });

  it('two overlapping 10×10 boxes on a 100×100 image cover 175 pixels once', () => {
    const features = textDetectionOutputFeatures([box(0, 0, 10, 10, 0.8), box(5, 5, 15, 15, 0.6)], { width: 100, height: 100 });
    expect(features).toEqual({ task: 'text-detection', boxes: 2, meanScore: expect.closeTo(0.7, 12), textArea: 0.0175 });
    expect(outputFeaturesSchema.parse(features)).toEqual(features);
  });

  it('a box is clipped to the image; no boxes means no mean score', () => {
    expect(textDetectionOutputFeatures([box(-10, 90, 20, 120, 0.9)], { width: 100, height: 100 }).textArea).toBe(0.02);
    const none = textDetectionOutputFeatures([], { width: 100, height: 100 });
    expect(none).toEqual({ task: 'text-detection', boxes: 0, meanScore: null, textArea: 0 });
    expect(outputFeaturesSchema.parse(none)).toEqual(none);
  });

  it('union area: a box inside another counts once, disjoint boxes add', () => {
    expect(
      unionArea([
        { x0: 0, y0: 0, x1: 4, y1: 4 },
        { x0: 1, y0: 1, x1: 2, y1: 2 },
        { x0: 10, y0: 10, x1: 12, y1: 13 },
      ]),
    ).toBe(16 + 6);
  });
});

describe('image-to-image output features', () => {
  it('the returned image’s size, the scale and its pixel statistics', () => {
    const data = new Uint8Array(4 * 4 * 3).fill(200);
    const features = imageToImageOutputFeatures({ data, width: 4, height: 4 }, 2);
    expect(features).toEqual({
      task: 'image-to-image',
      width: 4,
      height: 4,
      scale: 2,
      meanLuma: 200,
      contrast: 0,
      sharpness: 0,
      colourfulness: 0,
      saturation: 0,
      clipped: 0,
    });
    expect(outputFeaturesSchema.parse(features)).toEqual(features);
  });
});
