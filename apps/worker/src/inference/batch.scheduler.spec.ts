import { BatchScheduler } from './batch.scheduler';

/** Runs batches by hand: each run stays open until the test ends it. */
function harness() {
  const runs: Array<{ items: string[]; end: () => void }> = [];
  let now = 0;
  const scheduler = new BatchScheduler<string>(
    (items) => new Promise<void>((resolve) => runs.push({ items, end: resolve })),
    () => now,
  );
  return { runs, scheduler, advance: (ms: number) => ((now += ms), jest.advanceTimersByTimeAsync(ms)) };
}

describe('BatchScheduler', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());
  const policy = { maxBatch: 3, maxDelayMs: 20 };

  it('runs a full batch at once, and a partial one when its oldest input has waited maxDelayMs', async () => {
    const { runs, scheduler, advance } = harness();
    for (const item of ['a', 'b', 'c']) scheduler.add('m 1×3', policy, item);
    expect(runs.map((r) => r.items)).toEqual([['a', 'b', 'c']]);
    runs[0]!.end();
    await advance(0);
    scheduler.add('m 1×3', policy, 'd');
    await advance(19);
    expect(runs).toHaveLength(1);
    await advance(1);
    expect(runs.map((r) => r.items)).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('runs one batch at a time: what arrives meanwhile gathers, and the oldest due group goes next', async () => {
    const { runs, scheduler, advance } = harness();
    scheduler.add('m 1×3', { maxBatch: 1, maxDelayMs: 0 }, 'a');
    expect(runs.map((r) => r.items)).toEqual([['a']]);
    scheduler.add('m 2×3', policy, 'x');
    await advance(5);
    for (const item of ['b', 'c', 'd']) scheduler.add('m 1×3', policy, item);
    await advance(50);
    expect(runs).toHaveLength(1); // both groups are due, but a batch is running
    expect(scheduler.waiting).toBe(4);
    runs[0]!.end();
    await advance(0);
    expect(runs[1]!.items).toEqual(['x']);
    runs[1]!.end();
    await advance(0);
    expect(runs[2]!.items).toEqual(['b', 'c', 'd']);
    expect(scheduler.waiting).toBe(0);
  });

  it('keeps no timer once nothing waits', async () => {
    const { runs, scheduler, advance } = harness();
    scheduler.add('m', policy, 'a');
    await advance(20);
    runs[0]!.end();
    await advance(0);
    expect(jest.getTimerCount()).toBe(0);
  });
});
