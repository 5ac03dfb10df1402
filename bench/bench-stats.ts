/** Order statistics for latency samples: nearest rank, so a reported p99 is a latency that happened. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const median = (samples: number[]): number => percentile(samples, 50);

/** One decimal: finer digits are noise on a shared 2-core machine. */
export const round1 = (value: number): number => Math.round(value * 10) / 10;
