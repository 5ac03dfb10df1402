import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { BlobStore } from './blob.store';

export interface BlobSweeperLog {
  info(fields: object): void;
  warn(fields: object): void;
}

/**
 * Deletes inputs and results older than the retention, once per interval for the whole
 * deployment: every API instance runs one, and the one that takes the round's Redis lock (SET NX
 * with the interval as its expiry, never released) sweeps. A lost instance loses nothing: the
 * lock expires and the next round goes to whoever asks first.
 */
export class BlobSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly owner = randomUUID();

  constructor(
    private readonly blobs: BlobStore,
    private readonly redis: Redis,
    private readonly options: { prefix: string; retentionSeconds: number; intervalMs: number },
    private readonly log: BlobSweeperLog,
  ) {}

  start(): this {
    this.timer = setInterval(() => {
      this.running ??= this.sweepIfLeader()
        .catch((error: Error) => this.log.warn({ msg: 'blob sweep failed; the next round tries again', error: error.message }))
        .finally(() => (this.running = undefined));
    }, this.options.intervalMs);
    this.timer.unref();
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Sweeps when this instance wins the round's lock; how many blobs went (null: another instance's round). */
  async sweepIfLeader(now = Date.now()): Promise<number | null> {
    const won = await this.redis.set(this.lockKey(), this.owner, 'PX', this.options.intervalMs, 'NX');
    if (won !== 'OK') return null;
    const deleted = await this.blobs.deleteOlderThan(now - this.options.retentionSeconds * 1000);
    if (deleted > 0) this.log.info({ msg: 'expired blobs deleted', deleted, store: this.blobs.kind });
    return deleted;
  }

  private lockKey(): string {
    return `${this.options.prefix}:blob-sweeper:lock`;
  }
}
