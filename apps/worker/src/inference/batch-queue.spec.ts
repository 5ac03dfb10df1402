import { BatchQueue } from './batch-queue';

const policy = (maxBatch: number, maxDelayMs: number) => ({ maxBatch, maxDelayMs });

describe('BatchQueue', () => {
  it('runs a full batch at once, without waiting for the delay', () => {
    const queue = new BatchQueue<string>();
    for (const job of ['a', 'b', 'c']) queue.add('m 1×3×32×32', policy(3, 50), job, 0);
    expect(queue.next(0)).toEqual({ key: 'm 1×3×32×32', items: ['a', 'b', 'c'] });
    expect(queue.next(0)).toBeUndefined();
  });

  it('waits for more until the oldest has waited maxDelayMs, then runs what it has', () => {
    const queue = new BatchQueue<string>();
    queue.add('m', policy(4, 10), 'a', 100);
    queue.add('m', policy(4, 10), 'b', 104);
    expect(queue.next(104)).toEqual({ waitMs: 6 });
    expect(queue.next(110)).toEqual({ key: 'm', items: ['a', 'b'] });
  });

  it('never mixes shapes: each key is its own batch', () => {
    const queue = new BatchQueue<string>();
    queue.add('m 1×3×32×64', policy(2, 0), 'wide', 0);
    queue.add('m 1×3×64×32', policy(2, 0), 'tall', 1);
    queue.add('m 1×3×32×64', policy(2, 0), 'wide2', 2);
    expect(queue.next(5)).toEqual({ key: 'm 1×3×32×64', items: ['wide', 'wide2'] });
    expect(queue.next(5)).toEqual({ key: 'm 1×3×64×32', items: ['tall'] });
  });

  it('takes at most maxBatch; the rest keep their place', () => {
    const queue = new BatchQueue<number>();
    for (let i = 0; i < 5; i++) queue.add('m', policy(2, 0), i, i);
    expect([queue.next(9), queue.next(9), queue.next(9), queue.next(9)]).toEqual([
      { key: 'm', items: [0, 1] },
      { key: 'm', items: [2, 3] },
      { key: 'm', items: [4] },
      undefined,
    ]);
  });

  it('of the due groups, serves the one waiting longest first', () => {
    const queue = new BatchQueue<string>();
    queue.add('late', policy(1, 0), 'x', 20);
    queue.add('early', policy(1, 0), 'y', 10);
    expect(queue.next(30)).toEqual({ key: 'early', items: ['y'] });
  });

  it('with maxBatch 1, each job runs alone and at once', () => {
    const queue = new BatchQueue<string>();
    queue.add('m', policy(1, 0), 'a', 0);
    queue.add('m', policy(1, 0), 'b', 0);
    expect(queue.size).toBe(2);
    expect(queue.next(0)).toEqual({ key: 'm', items: ['a'] });
    expect(queue.drain()).toEqual(['b']);
    expect(queue.size).toBe(0);
  });
});
