import { depthMetrics, depthScorer, fitScaleAndShift } from './depth.metrics';
import type { DepthPrediction, DepthTruth } from '../types';

const truthOf = (depth: number[], valid?: number[]): DepthTruth => ({
  width: depth.length,
  height: 1,
  depth: Float32Array.from(depth),
  ...(valid ? { valid: Uint8Array.from(valid) } : {}),
});
const predictionOf = (values: number[]): DepthPrediction => ({ width: values.length, height: 1, values: Float32Array.from(values) });

/** A 4 × 3 ramp from 1 m to 6.5 m. */
const ramp = Array.from({ length: 12 }, (_, i) => 1 + i / 2);

describe('depth metrics', () => {
  it('score a metric model that outputs the ground truth as perfect', () => {
    const stats = depthMetrics(predictionOf(ramp), truthOf(ramp), { depthOutput: 'metric' });
    expect(stats).toEqual({ pixels: 12, absRel: 0, sqRel: 0, rmse: 0, rmseLog: 0, log10: 0, silog: 0, delta1: 1, delta2: 1, delta3: 1 });
  });

  it('compute each metric as Depth Anything V2 does, on two pixels worked by hand', () => {
    // g = (1, 2), p = (1.5, 2): one pixel 50 % too far, one exact.
    const stats = depthMetrics(predictionOf([1.5, 2]), truthOf([1, 2]), { depthOutput: 'metric' });
    const d = Math.log(1.5);
    expect(stats.absRel).toBeCloseTo(0.25, 12);
    expect(stats.sqRel).toBeCloseTo(0.125, 12);
    expect(stats.rmse).toBeCloseTo(Math.sqrt(0.125), 12);
    expect(stats.rmseLog).toBeCloseTo(d / Math.SQRT2, 12);
    expect(stats.log10).toBeCloseTo(Math.log10(1.5) / 2, 12);
    // sqrt(mean(d²) − 0.5·mean(d)²) = sqrt(d²/2 − d²/8)
    expect(stats.silog).toBeCloseTo(d * Math.sqrt(3 / 8), 12);
    // 1.5 is above 1.25 but below 1.25² = 1.5625
    expect([stats.delta1, stats.delta2, stats.delta3]).toEqual([0.5, 1, 1]);
  });

  it('align a relative model’s scaled and shifted inverse depth to AbsRel ~0 (relative-inverse is the default)', () => {
    const disparity = ramp.map((g) => 3 * (1 / g) + 0.5);
    const stats = depthMetrics(predictionOf(disparity), truthOf(ramp), {});
    expect(stats.absRel).toBeLessThan(1e-6);
    expect(stats.rmse).toBeLessThan(1e-5);
    expect(stats.delta1).toBe(1);
  });

  it('do not align a metric model: the same scaled output is far off', () => {
    const disparity = ramp.map((g) => 3 * (1 / g) + 0.5);
    expect(depthMetrics(predictionOf(disparity), truthOf(ramp), { depthOutput: 'metric' }).absRel).toBeGreaterThan(0.5);
  });

  it('fit scale and shift by least squares, and a constant prediction by its shift alone', () => {
    const fit = fitScaleAndShift([1, 2, 3, 4], [5, 7, 9, 11]);
    expect(fit.scale).toBeCloseTo(2, 12);
    expect(fit.shift).toBeCloseTo(3, 12);
    expect(fitScaleAndShift([0.1, 0.1, 0.1], [1, 2, 3])).toEqual({ scale: 0, shift: 2 });
  });

  it('score only pixels with a valid mask, a finite positive depth inside the range and a finite prediction', () => {
    const depth = [1, 2, 0, Number.NaN, 4, 50, 3, 2];
    const valid = [1, 1, 1, 1, 0, 1, 1, 1];
    const prediction = [1, 2, 9, 9, 9, 9, Number.NaN, 4];
    const stats = depthMetrics(predictionOf(prediction), truthOf(depth, valid), {
      depthOutput: 'metric',
      depthRange: { min: 0.5, max: 10 },
    });
    // Left: (1, 1), (2, 2), (4, 2) — the last one 100 % too far.
    expect(stats.pixels).toBe(3);
    expect(stats.absRel).toBeCloseTo(1 / 3, 12);
    expect(stats.delta3).toBeCloseTo(2 / 3, 12);
  });

  it('raise a metric prediction of 0 or below to 1 mm, so its log error counts instead of vanishing', () => {
    expect(depthMetrics(predictionOf([-5]), truthOf([1]), { depthOutput: 'metric' }).absRel).toBeCloseTo(0.999, 12);
  });

  it('cap an aligned disparity at 1 / the range’s far end, so a pixel aligned to a negative disparity is as far as the range goes', () => {
    // The output is 1/g but for the farthest pixel, so low that it aligns below zero.
    const truth = [1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8];
    const prediction = truth.map((g, i) => (i === 9 ? -0.3 : 1 / g));
    const { scale, shift } = fitScaleAndShift(
      prediction,
      truth.map((g) => 1 / g),
    );
    expect(scale * -0.3 + shift).toBeLessThan(0);
    const aligned = prediction.map((x) => 1 / Math.max(scale * x + shift, 1 / 20));
    expect(aligned[9]).toBe(20);
    const expected = aligned.reduce((sum, p, i) => sum + Math.abs(p - truth[i]!) / truth[i]!, 0) / truth.length;
    const stats = depthMetrics(predictionOf(prediction), truthOf(truth), { depthRange: { min: 0.1, max: 20 } });
    expect(stats.absRel).toBeCloseTo(expected, 6);
    // Without a range the cap is the sample's farthest valid depth, 8 m.
    expect(depthMetrics(predictionOf(prediction), truthOf(truth), {}).absRel).toBeLessThan(stats.absRel);
  });

  it('refuse a sample with no valid ground truth, naming what counts as valid', () => {
    expect(() => depthMetrics(predictionOf([1, 2]), truthOf([0, Number.NaN]))).toThrow(/no valid ground-truth depth/);
    expect(() => depthMetrics(predictionOf([1, 2, 3]), truthOf([1, 2]))).toThrow(/prediction is 3×1 but its ground truth is 2×1/);
  });

  it('aggregate as the mean of per-image metrics and rank the worst AbsRel first', () => {
    const perfect = depthScorer.score(predictionOf([1, 2]), truthOf([1, 2]), { depthOutput: 'metric' });
    const off = depthScorer.score(predictionOf([1.5, 2]), truthOf([1, 2]), { depthOutput: 'metric' });
    expect(off.metrics).toMatchObject({ absRel: 0.25, delta1: 0.5 });
    const aggregate = depthScorer.aggregate([perfect.stats, off.stats]);
    expect(Object.keys(aggregate.metrics)).toEqual(['absRel', 'sqRel', 'rmse', 'rmseLog', 'log10', 'silog', 'delta1', 'delta2', 'delta3']);
    expect(aggregate.metrics.absRel).toBeCloseTo(0.125, 12);
    expect(aggregate.metrics.delta1).toBeCloseTo(0.75, 12);
    expect(depthScorer.rank(off)).toBeLessThan(depthScorer.rank(perfect));
  });
});
