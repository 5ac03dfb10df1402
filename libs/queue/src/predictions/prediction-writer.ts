import type { PredictionRecord } from '@fathom/contracts';

/** Where the writer's batches go: the worker's is the prediction stream in Redis (PredictionStream.append). */
export interface PredictionSink {
  write(rows: readonly PredictionRecord[]): Promise<unknown>;
}

export interface PredictionWriterOptions {
  /** How often buffered rows are written (ms). */
  flushMs?: number;
  /** Rows per INSERT; this many waiting starts a write before the timer. */
  batchSize?: number;
  /** Rows kept at most while the database is away; beyond it the oldest go. */
  maxBuffered?: number;
  /** The longest wait between retries of a failed write (ms); waits double from flushMs up to it. */
  maxBackoffMs?: number;
  /** Rows dropped because the buffer was full (for a metric and its alert). */
  onDropped?: (count: number) => void;
  /** Rows now in the database. */
  onWritten?: (count: number) => void;
  /** A write that failed (its rows are kept and retried). */
  onError?: (error: unknown) => void;
}

/**
 * Batches prediction rows into the database off the job path (issue 15): `add` only appends to a
 * memory buffer, so a slow or absent database never slows or fails a job. A failed write keeps its
 * rows and is retried with backoff; the buffer is bounded and, when full, drops the oldest rows and
 * says how many.
 */
export class PredictionWriter {
  private readonly flushMs: number;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  private readonly maxBackoffMs: number;
  /** Oldest first; rows being written are in `inFlight`, not here. */
  private queue: PredictionRecord[] = [];
  private inFlight: PredictionRecord[] = [];
  /** The oldest rows in flight beyond the bound: dropped if their write fails, kept if it succeeds. */
  private doomed = 0;
  private running: Promise<boolean> | undefined;
  private failures = 0;
  private retryAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly sink: PredictionSink,
    private readonly options: PredictionWriterOptions = {},
  ) {
    this.flushMs = options.flushMs ?? 1_000;
    this.batchSize = Math.max(1, options.batchSize ?? 200);
    this.maxBuffered = Math.max(1, options.maxBuffered ?? 50_000);
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.schedule();
  }

  /** Rows waiting to be written, those being written included (never more than maxBuffered). */
  get buffered(): number {
    return this.queue.length + this.inFlight.length - this.doomed;
  }

  /** Queues a row; never throws and never waits on the database. */
  add(row: PredictionRecord): void {
    try {
      if (this.closed) {
        this.dropped(1);
        return;
      }
      this.queue.push(row);
      this.trim();
      if (this.queue.length >= this.batchSize && this.running === undefined && Date.now() >= this.retryAt) void this.flush();
    } catch {
      // A callback that throws must not reach the job.
    }
  }

  /**
   * Writes everything buffered now, in batches, waiting for a write already running; true when the
   * buffer emptied, false when a write failed (its rows stay buffered). Never rejects.
   */
  async flush(): Promise<boolean> {
    while (this.running !== undefined) await this.running;
    this.running = this.drain();
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  /** Stops the timer and writes what it can within `timeoutMs`; resolves with the rows left unwritten. */
  async close(timeoutMs = 5_000): Promise<number> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      this.flush(),
      new Promise<void>((resolve) => {
        timeout = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timeout);
    return this.buffered;
  }

  private async drain(): Promise<boolean> {
    while (this.queue.length > 0) {
      this.inFlight = this.queue.splice(0, this.batchSize);
      try {
        await this.sink.write(this.inFlight);
      } catch (error) {
        // Back at the front, oldest first, less those the bound pushed out meanwhile.
        const doomed = this.doomed;
        this.queue = this.inFlight.slice(doomed).concat(this.queue);
        this.inFlight = [];
        this.doomed = 0;
        if (doomed > 0) this.dropped(doomed);
        this.failures += 1;
        this.retryAt = Date.now() + Math.min(this.maxBackoffMs, this.flushMs * 2 ** (this.failures - 1));
        this.trim();
        this.notify(() => this.options.onError?.(error));
        return false;
      }
      const written = this.inFlight.length;
      this.inFlight = [];
      this.doomed = 0;
      this.failures = 0;
      this.retryAt = 0;
      this.notify(() => this.options.onWritten?.(written));
    }
    return true;
  }

  /**
   * Drops the oldest rows beyond the bound. Rows in flight are the oldest: they are only marked,
   * and dropped if their write fails, so a write that succeeds loses nothing.
   */
  private trim(): void {
    let excess = this.buffered - this.maxBuffered;
    if (excess <= 0) return;
    const marked = Math.min(this.inFlight.length - this.doomed, excess);
    this.doomed += marked;
    excess -= marked;
    if (excess <= 0) return;
    this.queue.splice(0, excess);
    this.dropped(excess);
  }

  private dropped(count: number): void {
    this.notify(() => this.options.onDropped?.(count));
  }

  private notify(callback: () => void): void {
    try {
      callback();
    } catch {
      // A metric's callback failing must not lose rows or stop the writer.
    }
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      const due = this.buffered > 0 && this.running === undefined && Date.now() >= this.retryAt;
      void (due ? this.flush() : Promise.resolve(true)).finally(() => this.schedule());
    }, this.flushMs);
    // The writer alone never keeps a process alive; shutdown calls close().
    this.timer.unref();
  }
}
