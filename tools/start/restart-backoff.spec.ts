import { nextAttempt, restartDelay, type RestartPolicy } from './restart-backoff';

const policy: RestartPolicy = { delayMs: 1_000, maxDelayMs: 30_000, resetAfterMs: 60_000 };

describe('restart backoff', () => {
  it('doubles from the first delay and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((attempt) => restartDelay(attempt, policy))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it('counts up while a process keeps dying young, and starts again after a healthy run', () => {
    expect(nextAttempt(0, 10, policy)).toBe(1);
    expect(nextAttempt(3, 59_999, policy)).toBe(4);
    expect(nextAttempt(5, 60_000, policy)).toBe(1);
  });
});
