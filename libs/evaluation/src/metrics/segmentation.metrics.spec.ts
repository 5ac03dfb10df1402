import { segmentationCounts, segmentationScorer } from './segmentation.metrics';
import type { SegmentationPrediction, SegmentationTruth } from '../types';

const prediction = (classes: number[]): SegmentationPrediction => ({ width: classes.length, height: 1, classes: Uint8Array.from(classes) });
const truth = (classes: number[], numClasses: number, ignoreIndex: number | null = 255, labels?: string[]): SegmentationTruth => ({
  width: classes.length,
  height: 1,
  classes: Uint8Array.from(classes),
  ignoreIndex,
  numClasses,
  ...(labels ? { labels } : {}),
});

describe('segmentation metrics', () => {
  it('score a 2 × 2 confusion: IoU per class, mIoU and pixel accuracy', () => {
    // truth 0 0 1 1, predicted 0 1 1 1: class 0 has I = 1, U = 2; class 1 has I = 2, U = 3.
    const score = segmentationScorer.score(prediction([0, 1, 1, 1]), truth([0, 0, 1, 1], 2), {});
    expect(score.stats).toEqual({ intersection: [1, 2], union: [2, 3], correct: 3, total: 4 });
    expect(score.metrics.mIoU).toBeCloseTo((1 / 2 + 2 / 3) / 2, 12);
    expect(score.metrics.pixelAccuracy).toBe(0.75);
  });

  it('skip ignore-index pixels, count a prediction beyond numClasses as wrong, and leave absent classes out of mIoU', () => {
    const stats = segmentationCounts(prediction([1, 0, 7, 0]), truth([255, 0, 0, 0], 3));
    expect(stats).toEqual({ intersection: [2, 0, 0], union: [3, 0, 0], correct: 2, total: 3 });
    const aggregate = segmentationScorer.aggregate([stats]);
    expect(aggregate.metrics).toEqual({ mIoU: 2 / 3, pixelAccuracy: 2 / 3 });
    expect(aggregate.details).toEqual({ iou: { '0': 2 / 3, '1': null, '2': null } });
  });

  it('sum intersections and unions over the dataset rather than averaging per-image IoUs, and name classes by label', () => {
    const labels = ['sky', 'road'];
    const a = segmentationScorer.score(prediction([0, 0]), truth([0, 0], 2, 255, labels), {});
    const b = segmentationScorer.score(prediction([1, 1]), truth([0, 1], 2, 255, labels), {});
    expect([a.metrics.mIoU, b.metrics.mIoU]).toEqual([1, 0.25]);
    const aggregate = segmentationScorer.aggregate([a.stats, b.stats]);
    expect(aggregate.details).toEqual({ iou: { sky: 2 / 3, road: 1 / 2 } });
    expect(aggregate.metrics.mIoU).toBeCloseTo(7 / 12, 12);
    expect(aggregate.metrics.pixelAccuracy).toBe(0.75);
    expect(segmentationScorer.rank(b)).toBeLessThan(segmentationScorer.rank(a));
  });

  it('refuse a truth class the dataset does not declare, and a sample that is all ignored', () => {
    expect(() => segmentationCounts(prediction([0, 0]), truth([0, 4], 2))).toThrow(/class 4 at pixel \(1, 0\)/);
    expect(() => segmentationCounts(prediction([0]), truth([255], 2))).toThrow(/every pixel of the sample is the ignore index/);
  });
});
