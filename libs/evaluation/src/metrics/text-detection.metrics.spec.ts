import { matchTextDetections, polygonArea, polygonIoU, textDetectionScorer } from './text-detection.metrics';
import type { Polygon } from '../types';

/** An axis-aligned box as a clockwise quadrilateral in image coordinates, as detectors return it. */
const box = (x0: number, y0: number, x1: number, y1: number): Polygon => [
  [x0, y0],
  [x1, y0],
  [x1, y1],
  [x0, y1],
];

describe('text detection metrics', () => {
  it('measure the IoU of two overlapping rectangles', () => {
    // Overlap 1 × 1, union 4 + 4 − 1.
    expect(polygonIoU(box(0, 0, 2, 2), box(1, 1, 3, 3))).toBeCloseTo(1 / 7, 12);
    expect(polygonIoU(box(0, 0, 1, 1), box(2, 2, 3, 3))).toBe(0);
    expect(polygonIoU(box(0, 0, 2, 2), [...box(0, 0, 2, 2)].reverse())).toBeCloseTo(1, 12);
  });

  it('measure rotated quadrilaterals and a concave polygon clipped by a convex one', () => {
    const diamond: Polygon = [
      [1, 0],
      [0, 1],
      [-1, 0],
      [0, -1],
    ];
    expect(polygonArea(diamond)).toBe(2);
    expect(polygonIoU(diamond, box(-1, -1, 1, 1))).toBeCloseTo(0.5, 12);
    const ell: Polygon = [
      [0, 0],
      [2, 0],
      [2, 1],
      [1, 1],
      [1, 2],
      [0, 2],
    ];
    expect(polygonIoU(ell, box(0, 0, 2, 2))).toBeCloseTo(3 / 4, 12);
    expect(polygonIoU(box(0, 0, 2, 2), ell)).toBeCloseTo(3 / 4, 12);
  });

  it('match one to one, highest IoU first', () => {
    // det 0 fits truth B exactly and truth A at 0.67; det 1 fits only A (0.54). Taking det 0 for A
    // (first come) would leave B unmatched; highest first matches both.
    const truth = { polygons: [box(0, 0, 10, 10), box(2, 0, 12, 10)] };
    expect(matchTextDetections({ polygons: [box(2, 0, 12, 10), box(-3, 0, 7, 10)] }, truth)).toEqual({ tp: 2, fp: 0, fn: 0 });
    // Two detections of one word: one hit, one false alarm.
    expect(matchTextDetections({ polygons: [box(0, 0, 10, 10), box(0, 1, 10, 11)] }, { polygons: [box(0, 0, 10, 10)] })).toEqual({
      tp: 1,
      fp: 1,
      fn: 0,
    });
  });

  it('drop detections of a “don’t care” word: neither a hit, a false alarm nor a miss', () => {
    const truth = { polygons: [box(0, 0, 10, 10), box(20, 0, 30, 10)], ignore: [false, true] };
    expect(matchTextDetections({ polygons: [box(21, 0, 30, 10)] }, truth)).toEqual({ tp: 0, fp: 0, fn: 1 });
    const onlyDontCare = textDetectionScorer.score(
      { polygons: [box(21, 0, 30, 10)] },
      { polygons: [box(20, 0, 30, 10)], ignore: [true] },
      {},
    );
    expect(onlyDontCare.metrics).toEqual({ precision: 1, recall: 1, f1: 1 });
  });

  it('score an image as ICDAR 2015 does, including an image without text', () => {
    expect(textDetectionScorer.score({ polygons: [] }, { polygons: [] }, {}).metrics).toEqual({ precision: 1, recall: 1, f1: 1 });
    expect(textDetectionScorer.score({ polygons: [box(0, 0, 1, 1)] }, { polygons: [] }, {}).metrics).toEqual({
      precision: 0,
      recall: 1,
      f1: 0,
    });
    expect(textDetectionScorer.score({ polygons: [] }, { polygons: [box(0, 0, 1, 1)] }, {}).metrics).toEqual({
      precision: 0,
      recall: 0,
      f1: 0,
    });
  });

  it('aggregate precision, recall and F1 over the summed counts', () => {
    const aggregate = textDetectionScorer.aggregate([
      { tp: 2, fp: 1, fn: 0 },
      { tp: 0, fp: 0, fn: 3 },
    ]);
    expect(aggregate.metrics.precision).toBeCloseTo(2 / 3, 12);
    expect(aggregate.metrics.recall).toBeCloseTo(2 / 5, 12);
    expect(aggregate.metrics.f1).toBeCloseTo(0.5, 12);
    expect(textDetectionScorer.aggregate([{ tp: 0, fp: 0, fn: 0 }]).metrics).toEqual({ precision: 0, recall: 0, f1: 0 });
  });
});
