import type { JobStage } from '@fathom/contracts';
import type { StageListener } from '../inference/inference.pool';
import type { StageTimes, ThreadStage } from '../inference/thread-protocol';

const TIMED: ReadonlySet<JobStage> = new Set<ThreadStage>(['decode', 'preprocess', 'inference', 'postprocess', 'encode']);

/**
 * A job's time in each stage an inference thread runs, from the times the thread stamped on its
 * stage messages: entering a stage ends the one before; a pause (waiting for a batch, done) ends
 * it without starting another. Stages outside the thread (fetch, store) end the running one and
 * are not timed here.
 */
export class StageClock implements StageListener {
  readonly timings: StageTimes = { decode: 0, preprocess: 0, inference: 0, postprocess: 0, encode: 0 };
  private running: { stage: ThreadStage; since: number } | undefined;

  enter(stage: JobStage, at: number): void {
    this.pause(at);
    if (TIMED.has(stage)) this.running = { stage: stage as ThreadStage, since: at };
  }

  pause(at: number): void {
    if (this.running) this.timings[this.running.stage] += Math.max(0, at - this.running.since);
    this.running = undefined;
  }
}
