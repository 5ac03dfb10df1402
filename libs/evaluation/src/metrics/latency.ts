/**
 * The p-th percentile (0–100) with linear interpolation between the closest ranks: numpy's default
 * (method='linear'), h = (n − 1)·p/100.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('a percentile of no values');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`a percentile is between 0 and 100, not ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const h = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const below = sorted[lo]!;
  const above = sorted[Math.min(lo + 1, sorted.length - 1)]!;
  return below + (h - lo) * (above - below);
}

export interface LatencyPercentiles {
  p50: number;
  p95: number;
}

/** p50 and p95 per stage over the jobs' timings (milliseconds); a job without a stage (or a non-finite one) does not count for it. */
export function latencySummary(timings: ReadonlyArray<Readonly<Record<string, number>>>): Record<string, LatencyPercentiles> {
  const byStage = new Map<string, number[]>();
  for (const timing of timings) {
    for (const [stage, ms] of Object.entries(timing)) {
      if (!Number.isFinite(ms)) continue;
      const values = byStage.get(stage) ?? [];
      values.push(ms);
      byStage.set(stage, values);
    }
  }
  return Object.fromEntries([...byStage].map(([stage, values]) => [stage, { p50: percentile(values, 50), p95: percentile(values, 95) }]));
}

/** Samples per second of wall-clock time (from the run's start to its last result). */
export function throughput(samples: number, wallSeconds: number): number {
  if (!(wallSeconds > 0)) throw new RangeError(`throughput needs a positive duration, not ${wallSeconds} s`);
  return samples / wallSeconds;
}
