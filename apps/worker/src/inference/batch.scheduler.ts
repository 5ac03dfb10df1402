import { performance } from 'node:perf_hooks';
import type { BatchingSpec } from '@fathom/models';
import { BatchQueue } from './batch-queue';

/**
 * Runs batches one at a time: inputs wait in a BatchQueue by key (model and tensor shape) until a
 * batch is due (full, or its oldest input has waited the model's maxDelayMs), then `run` gets them.
 * While a batch runs, the next ones gather; when it ends, the next due batch starts.
 *
 * `run` handles its own failures (each job is answered): a rejection here is a bug, and is left to
 * surface as an unhandled rejection rather than be swallowed.
 */
export class BatchScheduler<T> {
  private readonly queue = new BatchQueue<T>();
  private running = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly run: (items: T[]) => Promise<void>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Inputs waiting for their batch (not counting the batch running). */
  get waiting(): number {
    return this.queue.size;
  }

  add(key: string, policy: BatchingSpec, item: T): void {
    this.queue.add(key, policy, item, this.now());
    this.pump();
  }

  /** Starts the next due batch unless one is running; else waits for the earliest due time. */
  private pump(): void {
    if (this.running) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.queue.next(this.now());
    if (!next) return;
    if ('waitMs' in next) {
      this.timer = setTimeout(() => this.pump(), Math.max(1, Math.ceil(next.waitMs)));
      return;
    }
    this.running = true;
    void this.run(next.items).finally(() => {
      this.running = false;
      this.pump();
    });
  }
}
