import { classificationScorer } from './classification.metrics';
import type { ClassificationPrediction, ClassificationTruth } from '../types';

const labels = ['0', '90', '180', '270'];
const truth = (label: string): ClassificationTruth => ({ label, labels });
/** Labels best first, probabilities falling from `first`. */
const prediction = (ranked: string[], first = 0.9): ClassificationPrediction => ({
  top: ranked.map((label, i) => ({ index: labels.indexOf(label), label, probability: first / (i + 1) })),
});

describe('classification metrics', () => {
  const samples = [
    classificationScorer.score(prediction(['0', '90']), truth('0'), {}),
    classificationScorer.score(prediction(['0', '90']), truth('0'), {}),
    classificationScorer.score(prediction(['90', '0'], 0.6), truth('0'), {}),
    classificationScorer.score(prediction(['90', '0']), truth('90'), {}),
    classificationScorer.score(prediction(['180', '0', '90', '270', '10', '20'], 0.8), truth('270'), {}),
    classificationScorer.score(prediction(['180', '0', '90', '10', '20', '270']), truth('270'), {}),
  ];

  it('count top-1 and top-5 per sample', () => {
    expect(samples.map((s) => [s.metrics.top1, s.metrics.top5])).toEqual([
      [1, 1],
      [1, 1],
      [0, 1],
      [1, 1],
      [0, 1],
      [0, 0],
    ]);
  });

  it('aggregate top-1, top-5, per-class precision and recall and a confusion matrix in natural label order', () => {
    const aggregate = classificationScorer.aggregate(samples.map((s) => s.stats));
    expect(aggregate.metrics.top1).toBeCloseTo(3 / 6, 12);
    expect(aggregate.metrics.top5).toBeCloseTo(5 / 6, 12);
    // Rows truth, columns prediction; labels in truth or prediction: 0, 90, 180, 270.
    expect(aggregate.details?.confusion).toEqual({
      labels: ['0', '90', '180', '270'],
      matrix: [
        [2, 1, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 2, 0],
      ],
    });
    // precision 0: 2/2, 90: 1/2, 180: 0/2, 270: never predicted → 0; recall 0: 2/3, 90: 1/1, 180: never true → 0, 270: 0/2.
    expect(aggregate.details?.perClass).toMatchObject({
      '0': { precision: 1, recall: 2 / 3, support: 3, predicted: 2 },
      '90': { precision: 0.5, recall: 1, support: 1, predicted: 2 },
      '180': { precision: 0, recall: 0, support: 0, predicted: 2 },
      '270': { precision: 0, recall: 0, support: 2, predicted: 0 },
    });
    expect(aggregate.metrics.macroPrecision).toBeCloseTo(1.5 / 4, 12);
    expect(aggregate.metrics.macroRecall).toBeCloseTo((2 / 3 + 1) / 4, 12);
  });

  it('rank confident mistakes first, then hesitant right answers', () => {
    const order = [...samples].sort((a, b) => classificationScorer.rank(a) - classificationScorer.rank(b));
    expect(order.map((s) => [s.stats.truth, s.stats.predicted, s.stats.probability])).toEqual([
      ['270', '180', 0.9],
      ['270', '180', 0.8],
      ['0', '90', 0.6],
      ['0', '0', 0.9],
      ['0', '0', 0.9],
      ['90', '90', 0.9],
    ]);
  });

  it('refuse a prediction without a label', () => {
    expect(() => classificationScorer.score({ top: [] }, truth('0'), {})).toThrow(/no label/);
  });
});
