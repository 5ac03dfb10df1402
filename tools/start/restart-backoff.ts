/** When to restart a process that stopped on its own: exponential, capped, reset by a healthy run. */
export interface RestartPolicy {
  /** The first restart's delay. */
  delayMs: number;
  /** No delay is longer than this. */
  maxDelayMs: number;
  /** A process that ran at least this long before it stopped starts the count again. */
  resetAfterMs: number;
}

/** The delay before restart number `attempt` (1, 2, …): delayMs, 2 × delayMs, 4 × … up to maxDelayMs. */
export function restartDelay(attempt: number, policy: RestartPolicy): number {
  const doublings = Math.min(Math.max(attempt - 1, 0), 40); // 2^40 × 10 ms is past any cap
  return Math.min(policy.delayMs * 2 ** doublings, policy.maxDelayMs);
}

/** The attempt number of the next restart, given the last one and how long the process ran. */
export function nextAttempt(lastAttempt: number, ranForMs: number, policy: RestartPolicy): number {
  return ranForMs >= policy.resetAfterMs ? 1 : lastAttempt + 1;
}
