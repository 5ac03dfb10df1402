import { latencySummary, percentile, throughput } from './latency';

describe('latency and throughput of a run', () => {
  it('interpolate percentiles linearly between ranks, as numpy does by default', () => {
    expect(percentile([4, 1, 3, 2], 50)).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBeCloseTo(9.55, 12);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([1, 2], 0)).toBe(1);
    expect(percentile([1, 2], 100)).toBe(2);
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('summarise p50 and p95 per stage, counting a stage only in the jobs that have it', () => {
    expect(latencySummary([{ queueWait: 10, total: 100 }, { queueWait: 20, total: 200 }, { total: 300 }])).toEqual({
      queueWait: { p50: 15, p95: 19.5 },
      total: { p50: 200, p95: 290 },
    });
  });

  it('give samples per second of wall time', () => {
    expect(throughput(50, 10)).toBe(5);
    expect(() => throughput(5, 0)).toThrow(RangeError);
  });
});
