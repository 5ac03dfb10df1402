import type { Job } from 'bullmq';
import { progressAt, type JobStage } from '@fathom/contracts';

/**
 * How long a stage must last before it is reported. Each report is a Redis script, an event on the
 * queue's stream that every API instance reads, and a socket.io push to each subscriber: for a job
 * of a few milliseconds that was most of the service's work, for stages nobody could have seen.
 */
export const PROGRESS_AFTER_MS = 50;

/**
 * Reports a job's stages as its progress, each once it has lasted `afterMs`: clients of a slow job
 * see every stage long enough to notice; a job done sooner goes from queued to completed. Updates go
 * one at a time, in order: fired together they could reach Redis (and clients) out of order.
 */
export class JobProgressReporter {
  private timer: NodeJS.Timeout | undefined;
  private sent: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly job: Pick<Job, 'updateProgress'>,
    private readonly onError: (error: Error) => void,
    private readonly afterMs = PROGRESS_AFTER_MS,
  ) {}

  /** The job enters `stage`; the one before, if not reported yet, never will be. */
  enter(stage: JobStage): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.sent = this.sent.then(() => this.job.updateProgress(progressAt(stage))).catch(this.onError);
    }, this.afterMs);
  }

  /** Reports nothing more; resolves once what was sent reached Redis, so no update lands after the job's end. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.sent;
  }
}
