import type { ThreadStage } from './thread-protocol';

/** The three limits a job's stages run under, in ms: each thread stage counts against one of them. */
export interface StageLimits {
  decode: number;
  inference: number;
  encode: number;
}

/** Reading the input into the model's tensor counts as decoding; turning the output into artifacts, as encoding. */
export function stageLimitOf(stage: ThreadStage): keyof StageLimits {
  if (stage === 'decode' || stage === 'preprocess') return 'decode';
  if (stage === 'inference') return 'inference';
  return 'encode';
}

/** Time on the stage clock (stageClockNow in production) and timers: what a test replaces. */
export interface DeadlineClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

interface Running {
  stage: ThreadStage;
  /** When the stage started on the thread. */
  since: number;
  /** Time the stage waited while another job's session.run held the thread: not charged to it. */
  blockedMs: number;
  timer?: unknown;
}

/**
 * The deadlines of the jobs one inference thread holds: each stage a job enters gets what is left
 * of its limit, and `late` hears of one that runs past it. A thread does one thing at a time, so a
 * decode (finished on libuv) or an encode whose answer waits while another job's session.run holds
 * the thread is not charged for that wait; the run itself is bounded by the inference limit.
 */
export class StageDeadlines<K> {
  private readonly jobs = new Map<K, Running>();
  /** When the session.run in progress started; undefined between runs. */
  private runSince: number | undefined;

  constructor(
    private readonly limits: StageLimits,
    private readonly late: (key: K, stage: ThreadStage, limitMs: number) => void,
    private readonly clock: DeadlineClock,
  ) {}

  /** The stage a job is in, if it is in one (not waiting for a batch). */
  stageOf(key: K): ThreadStage | undefined {
    return this.jobs.get(key)?.stage;
  }

  /** The job entered `stage` at `at`. */
  enter(key: K, stage: ThreadStage, at: number): void {
    this.stop(key);
    const job: Running = { stage, since: at, blockedMs: 0 };
    this.jobs.set(key, job);
    if (stage === 'inference') this.runSince ??= at;
    this.schedule(key, job);
    this.runMayHaveEnded(at);
  }

  /** The job left its stage at `at` without entering another (waiting for a batch, answered, taken away). */
  leave(key: K, at: number): void {
    if (!this.stop(key)) return;
    this.runMayHaveEnded(at);
  }

  /** Stops every timer (the thread is retired or closed). */
  clear(): void {
    for (const key of [...this.jobs.keys()]) this.stop(key);
    this.runSince = undefined;
  }

  private stop(key: K): boolean {
    const job = this.jobs.get(key);
    if (job) this.clock.clearTimeout(job.timer);
    return this.jobs.delete(key);
  }

  private schedule(key: K, job: Running): void {
    this.clock.clearTimeout(job.timer);
    const limitMs = this.limits[stageLimitOf(job.stage)];
    if (!Number.isFinite(limitMs)) return;
    const left = Math.max(0, limitMs + job.blockedMs - (this.clock.now() - job.since));
    job.timer = this.clock.setTimeout(() => {
      if (job.stage !== 'inference' && this.runSince !== undefined) {
        // Blocked by the run in progress: the run's end re-arms it, unless it is late even so.
        const blockedNow = this.clock.now() - Math.max(this.runSince, job.since);
        if (this.clock.now() - job.since <= limitMs + job.blockedMs + blockedNow) return;
      }
      this.jobs.delete(key);
      this.late(key, job.stage, limitMs);
    }, left);
  }

  /** Once no job is in inference any more, the run has ended: the others' stages get that time back. */
  private runMayHaveEnded(at: number): void {
    const since = this.runSince;
    if (since === undefined || [...this.jobs.values()].some((job) => job.stage === 'inference')) return;
    this.runSince = undefined;
    for (const [key, job] of this.jobs) {
      job.blockedMs += Math.max(0, at - Math.max(since, job.since));
      this.schedule(key, job);
    }
  }
}
