import {
  HISTOGRAM_LENGTH,
  INPUT_FEATURE_NAMES,
  OUTPUT_FEATURE_NAMES,
  inputFeaturesSchema,
  outputFeaturesSchema,
} from './prediction-features';
import { TASK_NAMES } from './tasks';

const flatHistogram = Array.from({ length: HISTOGRAM_LENGTH }, () => 1 / 8);
const features = {
  bytes: 2048,
  format: 'png',
  width: 640,
  height: 480,
  megapixels: 0.3072,
  orientation: 1,
  meanLuma: 120,
  contrast: 40,
  sharpness: 300,
  colourfulness: 25,
  saturation: 0.3,
  clipped: 0.01,
  histogram: flatHistogram,
};

describe('prediction features contract', () => {
  it('accepts a complete set of input features', () => {
    expect(inputFeaturesSchema.parse(features)).toEqual(features);
  });

  it('refuses numbers that are not finite, a histogram of the wrong length, or a channel that does not sum to 1', () => {
    expect(inputFeaturesSchema.safeParse({ ...features, sharpness: Infinity }).success).toBe(false);
    expect(inputFeaturesSchema.safeParse({ ...features, contrast: NaN }).success).toBe(false);
    expect(inputFeaturesSchema.safeParse({ ...features, histogram: flatHistogram.slice(1) }).success).toBe(false);
    const lopsided = [...flatHistogram];
    lopsided[8] = 0.5;
    expect(inputFeaturesSchema.safeParse({ ...features, histogram: lopsided }).success).toBe(false);
  });

  it('has output features and drift names for every task', () => {
    expect(Object.keys(OUTPUT_FEATURE_NAMES).sort()).toEqual([...TASK_NAMES].sort());
    expect(INPUT_FEATURE_NAMES).toContain('sharpness');
    expect(
      outputFeaturesSchema.safeParse({ task: 'classification', topLabel: 'cat', topProbability: 0.9, entropy: 0.3, classes: 3 }).success,
    ).toBe(true);
    expect(
      outputFeaturesSchema.safeParse({ task: 'classification', topLabel: 'cat', topProbability: 1.5, entropy: 0.3, classes: 3 }).success,
    ).toBe(false);
  });
});
