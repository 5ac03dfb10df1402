import { ErrorCode, FathomError } from '@fathom/contracts';
import type { ClassificationPrediction, ClassificationTruth, SampleScore, TaskScorer } from '../types';
import { requireSamples } from './metric-inputs';

export interface ClassificationStats {
  truth: string;
  /** The top-1 label and its probability. */
  predicted: string;
  probability: number;
  /** The truth is among the first five predicted labels. */
  inTop5: boolean;
}

export interface ClassPrecisionRecall {
  precision: number;
  recall: number;
  /** Samples whose truth is this class, and samples predicted as it. */
  support: number;
  predicted: number;
}

export function classificationOutcome(prediction: ClassificationPrediction, truth: ClassificationTruth): ClassificationStats {
  const best = prediction.top[0];
  if (!best) throw new FathomError(ErrorCode.InferenceFailed, 'the classification prediction has no label');
  return {
    truth: truth.label,
    predicted: best.label,
    probability: best.probability,
    inTop5: prediction.top.slice(0, 5).some((entry) => entry.label === truth.label),
  };
}

/** Labels in natural order ("2" before "10"), so orientation classes read 0, 90, 180, 270. */
const byLabel = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

/**
 * Precision and recall per class over the labels that appear in the truth or the predictions;
 * a 0/0 (a class never predicted has no precision, a class never true has no recall) counts 0,
 * as scikit-learn's precision_recall_fscore_support(average='macro', zero_division=0) does, so
 * the macro means penalise both. Rows of the confusion matrix are the truth, columns the prediction.
 */
export function classificationSummary(stats: readonly ClassificationStats[]): {
  labels: string[];
  matrix: number[][];
  perClass: Record<string, ClassPrecisionRecall>;
} {
  const labels = [...new Set(stats.flatMap((s) => [s.truth, s.predicted]))].sort(byLabel);
  const at = new Map(labels.map((label, i) => [label, i]));
  const matrix = labels.map(() => new Array<number>(labels.length).fill(0));
  for (const s of stats) matrix[at.get(s.truth)!]![at.get(s.predicted)!]!++;
  const perClass: Record<string, ClassPrecisionRecall> = {};
  labels.forEach((label, c) => {
    const tp = matrix[c]![c]!;
    const support = matrix[c]!.reduce((a, b) => a + b, 0);
    const predicted = matrix.reduce((sum, row) => sum + row[c]!, 0);
    perClass[label] = { precision: predicted > 0 ? tp / predicted : 0, recall: support > 0 ? tp / support : 0, support, predicted };
  });
  return { labels, matrix, perClass };
}

export const classificationScorer: TaskScorer<'classification', ClassificationStats> = {
  score(prediction, truth): SampleScore<ClassificationStats> {
    const stats = classificationOutcome(prediction, truth);
    return {
      metrics: { top1: stats.predicted === stats.truth ? 1 : 0, top5: stats.inTop5 ? 1 : 0, probability: stats.probability },
      stats,
    };
  },
  aggregate(stats) {
    requireSamples('classification', stats);
    const { labels, matrix, perClass } = classificationSummary(stats);
    const classes = Object.values(perClass);
    return {
      metrics: {
        top1: stats.filter((s) => s.predicted === s.truth).length / stats.length,
        top5: stats.filter((s) => s.inTop5).length / stats.length,
        macroPrecision: classes.reduce((sum, c) => sum + c.precision, 0) / classes.length,
        macroRecall: classes.reduce((sum, c) => sum + c.recall, 0) / classes.length,
      },
      details: { perClass, confusion: { labels, matrix } },
    };
  },
  /** Wrong answers first, the most confident of them first (−probability); right ones after, the least confident first. */
  rank: (score) => (score.stats.predicted === score.stats.truth ? score.stats.probability : -score.stats.probability),
};
