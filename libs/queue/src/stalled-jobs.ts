import type { Job, WorkerOptions } from 'bullmq';
import { ErrorCode, parseFailureReason, type JobFailure } from '@fathom/contracts';

/**
 * How a queue consumer notices that the worker holding a job died (SIGKILL, OOM, a crashed host),
 * and what becomes of the job. A worker holds each job's lock (`<job>:lock`, PX lockDurationMs) and
 * renews it from its main thread every lockDurationMs / 2, inference threads or not; every
 * stalledIntervalMs one live worker of the queue moves back to wait the active jobs whose lock
 * expired, counting a stall on the job. A job past maxStalledCount stalls is failed instead
 * (`worker_lost`): an image that crashes the model must not take down worker after worker.
 */
export interface StallPolicy {
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
}

/** BullMQ Worker options for a policy; every worker of a queue must be given the same. */
export function stallWorkerOptions(
  policy: StallPolicy,
): Pick<WorkerOptions, 'lockDuration' | 'lockRenewTime' | 'stalledInterval' | 'maxStalledCount'> {
  return {
    lockDuration: policy.lockDurationMs,
    // Renewed at half its life: one missed renewal (a busy event loop, a slow Redis reply) is not a stall.
    lockRenewTime: Math.floor(policy.lockDurationMs / 2),
    stalledInterval: policy.stalledIntervalMs,
    maxStalledCount: policy.maxStalledCount,
  };
}

/**
 * The workers' defaults (WORKER_LOCK_DURATION_MS, WORKER_STALLED_INTERVAL_MS): a dead worker's job
 * runs again within recoveryBoundMs = 14 s, under the 15 s operators were promised.
 */
export const DEFAULT_STALL_POLICY: Pick<StallPolicy, 'lockDurationMs' | 'stalledIntervalMs'> = {
  lockDurationMs: 8_000,
  stalledIntervalMs: 3_000,
};

/**
 * The longest a dead worker's job waits before a live worker may take it again: its lock expires at
 * most lockDurationMs after the kill (it was renewed just before), and the next stalled check comes
 * within two intervals after that, not one: the workers share one check per interval (the first to
 * run it marks it done for stalledIntervalMs, and a worker whose timer fires meanwhile skips its turn
 * and sleeps a whole interval), so when the worker that ran the last check is the one that died, the
 * next check may be nearly two intervals away. Measured by the soak scenario (docs/benchmarks.md).
 * Taking the job is then as fast as taking any waiting job, if a worker has a free slot.
 */
export function recoveryBoundMs(policy: Pick<StallPolicy, 'lockDurationMs' | 'stalledIntervalMs'>): number {
  return policy.lockDurationMs + 2 * policy.stalledIntervalMs;
}

/**
 * The failure BullMQ records for a job that stalled more than maxStalledCount times: moveStalledJobsToWait
 * sets it as the job's deferred failure (`defa`) and the next worker to take the job fails it with it,
 * without running it. Pinned by bullmq-layout.spec.ts.
 */
export const BULLMQ_STALLED_LIMIT_REASON = 'job stalled more than allowable limit';

export function isWorkerLost(failedReason: string | undefined): boolean {
  return failedReason === BULLMQ_STALLED_LIMIT_REASON;
}

/** `stalls`: how many times its worker died, when known. */
export function workerLostFailure(stalls: number | undefined): JobFailure {
  const times = stalls ? `${stalls} time${stalls === 1 ? '' : 's'}` : 'more times than allowed';
  return {
    code: ErrorCode.WorkerLost,
    message:
      `The job's worker died ${times} while running it; it was not retried again — ` +
      'the image may crash the model (memory, a native fault), or workers were being killed or restarted.',
  };
}

/** A failed job's failure as clients see it: the worker's `[code] message`, or worker_lost for BullMQ's stall limit. */
export function jobFailure(failedReason: string | undefined, stalls: number | undefined): JobFailure {
  return isWorkerLost(failedReason) ? workerLostFailure(stalls) : parseFailureReason(failedReason);
}

/**
 * How many times the job ran, as a client counts it. BullMQ's attemptsMade (`atm`) counts attempts
 * that ended by completing or failing, plus the bookkeeping "attempt" that fails a job over the
 * stall limit (it never runs); a run whose worker died is only in stalledCounter (`stc`).
 * `attempts`: runs that ended (completed, failed, or lost with their worker); `stalls`: those lost.
 */
export function jobRuns(job: Pick<Job, 'attemptsMade' | 'stalledCounter' | 'failedReason'>): { attempts: number; stalls: number } {
  const stalls = job.stalledCounter ?? 0;
  const bookkeeping = isWorkerLost(job.failedReason) ? 1 : 0;
  return { attempts: Math.max(0, job.attemptsMade + stalls - bookkeeping), stalls };
}
