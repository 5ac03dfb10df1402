import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { DEFAULT_KEY_PREFIX } from '@fathom/contracts';
import type { JobsSocket } from '../../test/support/fathom-stack';

export interface JobEnd {
  state: 'completed' | 'failed' | 'cancelled';
  /** Since the run started, when this client heard it. */
  atMs: number;
}

/**
 * What a client hears on one socket.io connection about the jobs it subscribed to: how and when
 * each ended. Subscribing to a job that already ended sends its end at once (the gateway's rule).
 */
export class JobEnds {
  readonly ends = new Map<string, JobEnd>();
  private readonly watched = new Set<string>();
  private onEnd: (() => void) | undefined;

  constructor(
    private readonly socket: JobsSocket,
    private readonly runStarted: number,
  ) {
    socket.on('job.completed', (event) => this.record(event.jobId, 'completed'));
    socket.on('job.failed', (event) => this.record(event.jobId, 'failed'));
    socket.on('job.cancelled', (event) => this.record(event.jobId, 'cancelled'));
  }

  watch(jobId: string): void {
    if (this.watched.has(jobId)) return;
    this.watched.add(jobId);
    this.socket.emit('subscribe', { jobId });
  }

  /** Resolves once every watched job has ended, or at the deadline with the ones still open. */
  async settle(timeoutMs: number): Promise<string[]> {
    const open = () => [...this.watched].filter((id) => !this.ends.has(id));
    const all = new Promise<void>((resolve) => {
      this.onEnd = () => open().length === 0 && resolve();
      this.onEnd();
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.onEnd = undefined;
    return open();
  }

  private record(jobId: string, state: JobEnd['state']): void {
    if (!this.watched.has(jobId) || this.ends.has(jobId)) return;
    this.ends.set(jobId, { state, atMs: performance.now() - this.runStarted });
    this.onEnd?.();
  }
}

/**
 * Waits until a model queue holds no job (waiting or running), so one load run's leftovers (jobs
 * of requests a client gave up on) do not slow the next; a short poll of Redis, outside any timing.
 */
export async function waitForEmptyQueue(redisPort: number, queueName: string, timeoutMs: number): Promise<number> {
  // Fathom's prefix, not BullMQ's default ('bull'): under that the queue always looks empty.
  const queue = new Queue(queueName, { connection: { host: '127.0.0.1', port: redisPort }, prefix: DEFAULT_KEY_PREFIX });
  try {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const counts = await queue.getJobCounts('waiting', 'active', 'prioritized', 'delayed', 'paused');
      const left = Object.values(counts).reduce((sum, n) => sum + n, 0);
      if (left === 0 || performance.now() > deadline) return left;
      await sleep(250);
    }
  } finally {
    await queue.close();
  }
}
