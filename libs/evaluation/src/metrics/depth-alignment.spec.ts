import { alignDepth, depthValidMask } from './depth-alignment';
import type { DepthTruth } from '../types';

/** 4×2 metres, one pixel masked out by the dataset, one with no depth (0) and one NaN. */
const truth: DepthTruth = {
  width: 4,
  height: 2,
  depth: Float32Array.from([1, 2, 4, 5, 0, NaN, 2.5, 8]),
  valid: Uint8Array.from([1, 1, 1, 1, 1, 1, 1, 0]),
};
const size = { width: 4, height: 2 };

describe('depth alignment', () => {
  it('scores the masked-in pixels with a finite depth above 0, inside the dataset’s range', () => {
    expect([...depthValidMask(truth, {})]).toEqual([1, 1, 1, 1, 0, 0, 1, 0]);
    expect([...depthValidMask(truth, { depthRange: { min: 1.5, max: 4.5 } })]).toEqual([0, 1, 1, 0, 0, 0, 1, 0]);
  });

  it('brings a relative inverse-depth output, scaled and shifted, back to the ground truth in metres', () => {
    // disparity × 3 + 0.2: what an affine-invariant model may output; the fit undoes both.
    const values = Float32Array.from(truth.depth, (d) => (Number.isFinite(d) && d > 0 ? 3 / d + 0.2 : 0.7));
    const aligned = alignDepth({ ...size, values }, truth, { depthOutput: 'relative-inverse' });
    const scored = [0, 1, 2, 3, 6];
    for (const i of scored) expect(aligned[i]).toBeCloseTo(truth.depth[i]!, 5);
    // Relative-inverse is the default.
    expect([...alignDepth({ ...size, values }, truth, {})]).toEqual([...aligned]);
  });

  it('takes a metric model’s output as it is', () => {
    const values = Float32Array.from([1, 1, 1, 1, 1, 1, 1, 1]);
    expect([...alignDepth({ ...size, values }, truth, { depthOutput: 'metric' })]).toEqual([...values]);
  });

  it('turns a flat prediction into the mean disparity, and floors far fits at the deepest truth', () => {
    const flat = alignDepth({ ...size, values: new Float32Array(8).fill(0.3) }, truth, {});
    const meanDisparity = (1 / 1 + 1 / 2 + 1 / 4 + 1 / 5 + 1 / 2.5) / 5;
    expect(flat[0]).toBeCloseTo(1 / meanDisparity, 5);
    // The unscored pixel's output fits below zero disparity: it is drawn at the deepest truth (5 m), not negative.
    const values = Float32Array.from([1, 0.5, 0.25, 0.2, -5, 0, 0.4, 0]);
    expect(alignDepth({ ...size, values }, truth, {})[4]).toBeCloseTo(5, 5);
  });

  it('refuses a prediction of another size', () => {
    expect(() => alignDepth({ width: 2, height: 2, values: new Float32Array(4) }, truth, {})).toThrow(/2×2 .* 4×2/);
  });
});
