import type { Point, Polygon, SampleScore, TaskScorer, TextDetectionPrediction, TextDetectionTruth } from '../types';
import { requireSamples } from './metric-inputs';

/** A detection counts when its IoU with a truth polygon reaches this (ICDAR 2015's IOU_CONSTRAINT). */
export const TEXT_IOU_THRESHOLD = 0.5;

export interface TextDetectionStats {
  /** Matched detections; detections matching no truth; cared-for truth polygons no detection matched. */
  tp: number;
  fp: number;
  fn: number;
}

function signedArea(polygon: Polygon): number {
  let twice = 0;
  for (let i = 0; i < polygon.length; i++) {
    const [x1, y1] = polygon[i]!;
    const [x2, y2] = polygon[(i + 1) % polygon.length]!;
    twice += x1 * y2 - x2 * y1;
  }
  return twice / 2;
}

/** Shoelace area of a simple polygon, either orientation. */
export function polygonArea(polygon: Polygon): number {
  return Math.abs(signedArea(polygon));
}

function isConvex(polygon: Polygon): boolean {
  let sign = 0;
  for (let i = 0; i < polygon.length; i++) {
    const [ax, ay] = polygon[i]!;
    const [bx, by] = polygon[(i + 1) % polygon.length]!;
    const [cx, cy] = polygon[(i + 2) % polygon.length]!;
    const cross = (bx - ax) * (cy - by) - (by - ay) * (cx - bx);
    if (cross !== 0) {
      if (sign !== 0 && Math.sign(cross) !== sign) return false;
      sign = Math.sign(cross);
    }
  }
  return true;
}

/**
 * Sutherland–Hodgman: `subject` clipped by each edge of `clip`, which must be convex (any simple
 * subject works). Detector boxes and ICDAR quadrilaterals are convex; of two polygons the convex
 * one clips, and two concave ones are an approximation this evaluator does not promise.
 */
export function clipPolygon(subject: Polygon, clip: Polygon): Point[] {
  const ccw = signedArea(clip) >= 0 ? clip : [...clip].reverse();
  let output: Point[] = [...subject];
  for (let i = 0; i < ccw.length && output.length > 0; i++) {
    const [ax, ay] = ccw[i]!;
    const [bx, by] = ccw[(i + 1) % ccw.length]!;
    // > 0: left of a→b, inside a counter-clockwise convex polygon.
    const side = ([x, y]: Point): number => (bx - ax) * (y - ay) - (by - ay) * (x - ax);
    const input = output;
    output = [];
    for (let j = 0; j < input.length; j++) {
      const current = input[j]!;
      const previous = input[(j + input.length - 1) % input.length]!;
      const sc = side(current);
      const sp = side(previous);
      if (sc >= 0) {
        if (sp < 0) output.push(crossing(previous, current, sp, sc));
        output.push(current);
      } else if (sp >= 0) {
        output.push(crossing(previous, current, sp, sc));
      }
    }
  }
  return output;
}

/** Where segment p→q crosses the clip line, from the two sides' signed distances (they differ in sign). */
function crossing([px, py]: Point, [qx, qy]: Point, sp: number, sq: number): Point {
  const t = sp / (sp - sq);
  return [px + t * (qx - px), py + t * (qy - py)];
}

export function polygonIoU(a: Polygon, b: Polygon): number {
  const areaA = polygonArea(a);
  const areaB = polygonArea(b);
  if (areaA === 0 || areaB === 0) return 0;
  const intersection = isConvex(b) || !isConvex(a) ? polygonArea(clipPolygon(a, b)) : polygonArea(clipPolygon(b, a));
  const union = areaA + areaB - intersection;
  return union > 0 ? intersection / union : 0;
}

/**
 * One-to-one matching at IoU ≥ 0.5, highest IoU first (ties: lower truth index, then lower
 * detection index). Before it, a detection whose IoU with a "don't care" truth polygon reaches 0.5
 * is dropped: it counts neither as a hit nor as a false alarm, and don't-care polygons are never
 * missed. (ICDAR 2015's script drops on intersection / detection area > 0.5 and matches in order.)
 */
export function matchTextDetections(prediction: TextDetectionPrediction, truth: TextDetectionTruth): TextDetectionStats {
  const ignore = truth.ignore ?? [];
  const cared = truth.polygons.map((_, i) => i).filter((i) => !ignore[i]);
  const careless = truth.polygons.filter((_, i) => ignore[i]);
  const detections = prediction.polygons.filter((det) => !careless.some((gt) => polygonIoU(det, gt) >= TEXT_IOU_THRESHOLD));
  const candidates: Array<{ gt: number; det: number; iou: number }> = [];
  cared.forEach((gtIndex, gt) => {
    detections.forEach((polygon, det) => {
      const iou = polygonIoU(polygon, truth.polygons[gtIndex]!);
      if (iou >= TEXT_IOU_THRESHOLD) candidates.push({ gt, det, iou });
    });
  });
  candidates.sort((x, y) => y.iou - x.iou || x.gt - y.gt || x.det - y.det);
  const gtTaken = new Set<number>();
  const detTaken = new Set<number>();
  for (const { gt, det } of candidates) {
    if (gtTaken.has(gt) || detTaken.has(det)) continue;
    gtTaken.add(gt);
    detTaken.add(det);
  }
  const tp = gtTaken.size;
  return { tp, fp: detections.length - tp, fn: cared.length - tp };
}

function f1Of(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

/**
 * ICDAR 2015's per-image figures: an image with no (cared-for) truth has recall 1 and precision 1
 * when nothing was detected, 0 when something was; with truth and no detection, precision is 0.
 */
function sampleMetrics({ tp, fp, fn }: TextDetectionStats): Record<'precision' | 'recall' | 'f1', number> {
  const truths = tp + fn;
  const detections = tp + fp;
  const recall = truths === 0 ? 1 : tp / truths;
  const precision = truths === 0 ? (detections > 0 ? 0 : 1) : detections === 0 ? 0 : tp / detections;
  return { precision, recall, f1: f1Of(precision, recall) };
}

export const textDetectionScorer: TaskScorer<'text-detection', TextDetectionStats> = {
  score(prediction, truth): SampleScore<TextDetectionStats> {
    const stats = matchTextDetections(prediction, truth);
    return { metrics: sampleMetrics(stats), stats };
  },
  /** ICDAR 2015's method figures: precision ΣTP/(ΣTP+ΣFP), recall ΣTP/(ΣTP+ΣFN), a 0/0 is 0, F1 their harmonic mean. */
  aggregate(stats) {
    requireSamples('text-detection', stats);
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const s of stats) {
      tp += s.tp;
      fp += s.fp;
      fn += s.fn;
    }
    const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
    const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
    return { metrics: { precision, recall, f1: f1Of(precision, recall) }, details: { tp, fp, fn } };
  },
  rank: (score) => sampleMetrics(score.stats).f1,
};
