import { ErrorCode, FathomError } from '@fathom/contracts';
import type { SampleScore, SegmentationPrediction, SegmentationTruth, TaskScorer } from '../types';
import { requireSameSize, requireSamples } from './metric-inputs';

/** One sample's counts per class (index = class): what the dataset's IoU sums. */
export interface SegmentationStats {
  intersection: number[];
  union: number[];
  /** Scored pixels (not the ignore index) whose predicted class is the truth's, and all scored pixels. */
  correct: number;
  total: number;
  /** The dataset's label per class, when it names them (details.iou is keyed by them). */
  labels?: readonly string[];
}

/**
 * Pixels whose truth is the ignore index are not scored. A predicted class ≥ numClasses is wrong
 * and belongs to no class's union (it is no class); a truth class ≥ numClasses that is not the
 * ignore index is a bad dataset.
 */
export function segmentationCounts(prediction: SegmentationPrediction, truth: SegmentationTruth): SegmentationStats {
  requireSameSize('segmentation', prediction, truth);
  const n = truth.width * truth.height;
  if (prediction.classes.length !== n || truth.classes.length !== n) {
    throw new FathomError(ErrorCode.InvalidDataset, `a class map must hold width × height = ${n} values`, {
      prediction: prediction.classes.length,
      truth: truth.classes.length,
    });
  }
  const k = truth.numClasses;
  const intersection = new Array<number>(k).fill(0);
  const truthCount = new Array<number>(k).fill(0);
  const predictedCount = new Array<number>(k).fill(0);
  let correct = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const t = truth.classes[i]!;
    if (t === truth.ignoreIndex) continue;
    if (t >= k) {
      throw new FathomError(
        ErrorCode.InvalidDataset,
        `ground-truth class ${t} at pixel (${i % truth.width}, ${Math.floor(i / truth.width)}) is neither below numClasses ${k} nor the ignore index ${truth.ignoreIndex}`,
      );
    }
    const p = prediction.classes[i]!;
    total++;
    truthCount[t]!++;
    if (p < k) predictedCount[p]!++;
    if (p === t) {
      correct++;
      intersection[t]!++;
    }
  }
  if (total === 0) throw new FathomError(ErrorCode.InvalidDataset, 'every pixel of the sample is the ignore index: nothing to score');
  const union = intersection.map((i, c) => truthCount[c]! + predictedCount[c]! - i);
  return { intersection, union, correct, total, ...(truth.labels ? { labels: truth.labels } : {}) };
}

/** IoU per class over summed counts; classes with an empty union (absent from truth and prediction) are null and left out of mIoU. */
function iouOf(intersection: readonly number[], union: readonly number[]): { iou: (number | null)[]; mIoU: number } {
  const iou = union.map((u, c) => (u > 0 ? intersection[c]! / u : null));
  const present = iou.filter((v): v is number => v !== null);
  return { iou, mIoU: present.reduce((a, b) => a + b, 0) / present.length };
}

export const segmentationScorer: TaskScorer<'segmentation', SegmentationStats> = {
  score(prediction, truth): SampleScore<SegmentationStats> {
    const stats = segmentationCounts(prediction, truth);
    return { metrics: { mIoU: iouOf(stats.intersection, stats.union).mIoU, pixelAccuracy: stats.correct / stats.total }, stats };
  },
  /** Dataset IoU per class = ΣI / ΣU over the samples (mmsegmentation's and VOC's convention), not a mean of per-image IoUs. */
  aggregate(stats) {
    requireSamples('segmentation', stats);
    const classes = Math.max(...stats.map((s) => s.union.length));
    const intersection = new Array<number>(classes).fill(0);
    const union = new Array<number>(classes).fill(0);
    let correct = 0;
    let total = 0;
    for (const s of stats) {
      s.intersection.forEach((v, c) => (intersection[c]! += v));
      s.union.forEach((v, c) => (union[c]! += v));
      correct += s.correct;
      total += s.total;
    }
    const { iou, mIoU } = iouOf(intersection, union);
    const labels = stats.find((s) => s.labels)?.labels;
    return {
      metrics: { mIoU, pixelAccuracy: correct / total },
      details: { iou: Object.fromEntries(iou.map((v, c) => [labels?.[c] ?? String(c), v])) },
    };
  },
  rank: (score) => iouOf(score.stats.intersection, score.stats.union).mIoU,
};
