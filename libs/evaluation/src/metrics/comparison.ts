import { ErrorCode, FathomError, TASK_METRICS, type MetricComparison, type MetricDeclaration, type TaskName } from '@fathom/contracts';
import { percentile } from './latency';
import { SCORERS } from './scorers';

export interface CompareOptions {
  /** Bootstrap resamples (default 2000). */
  resamples?: number;
  /** The PRNG's seed: the same runs and seed give the same intervals. */
  seed?: number;
}

/** mulberry32: a small, fast, seeded 32-bit PRNG, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * b against a (a the baseline), paired by sample: pairsA[i] and pairsB[i] are the same sample's
 * statistics in the two runs. A paired bootstrap resamples the pair indices with replacement,
 * recomputes both aggregates on each resample, and takes the 2.5th and 97.5th percentiles of
 * b − a. The verdict is 'better' or 'worse' when that interval excludes 0 on that side.
 */
export function compareRuns<T extends TaskName>(
  task: T,
  pairsA: readonly unknown[],
  pairsB: readonly unknown[],
  { resamples = 2_000, seed = 1 }: CompareOptions = {},
): MetricComparison[] {
  if (pairsA.length !== pairsB.length || pairsA.length === 0) {
    throw new FathomError(
      ErrorCode.InvalidRequest,
      `a paired comparison needs the same samples scored in both runs: ${pairsA.length} and ${pairsB.length} given`,
    );
  }
  if (!(Number.isInteger(resamples) && resamples > 0)) throw new RangeError(`resamples must be a positive integer, not ${resamples}`);
  const scorer = SCORERS[task];
  const declarations = TASK_METRICS[task] as readonly MetricDeclaration[];
  const a = scorer.aggregate(pairsA).metrics;
  const b = scorer.aggregate(pairsB).metrics;
  const random = mulberry32(seed);
  const n = pairsA.length;
  const deltas = declarations.map(() => new Array<number>(resamples));
  const sampleA = new Array<unknown>(n);
  const sampleB = new Array<unknown>(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) {
      const pick = Math.floor(random() * n);
      sampleA[i] = pairsA[pick];
      sampleB[i] = pairsB[pick];
    }
    const ra = scorer.aggregate(sampleA).metrics;
    const rb = scorer.aggregate(sampleB).metrics;
    declarations.forEach((m, k) => (deltas[k]![r] = rb[m.name]! - ra[m.name]!));
  }
  return declarations.map((m, k) => {
    const ci95: [number, number] = [percentile(deltas[k]!, 2.5), percentile(deltas[k]!, 97.5)];
    const [lo, hi] = ci95;
    const up = m.better === 'higher' ? 'better' : 'worse';
    const down = m.better === 'higher' ? 'worse' : 'better';
    return {
      metric: m.name,
      better: m.better,
      a: a[m.name]!,
      b: b[m.name]!,
      delta: b[m.name]! - a[m.name]!,
      ci95,
      verdict: lo > 0 ? up : hi < 0 ? down : 'no-difference',
    };
  });
}

/**
 * The promotion gate on one metric: worseBy is how much worse b (the canary) is than a (stable) in
 * the metric's worse direction (positive = worse, negative = better). The gate uses the point
 * estimate, not the interval: a margin is a tolerance the operator chose, in the metric's units,
 * and the interval's verdict is shown beside it for judgement.
 */
export function gateDecision(comparison: MetricComparison, margin: number): { passed: boolean; worseBy: number } {
  const worseBy = comparison.better === 'higher' ? -comparison.delta : comparison.delta;
  return { passed: worseBy <= margin, worseBy };
}
