import type { RedisClient } from './redis-connection';

/**
 * The only place Fathom reads BullMQ's Redis layout directly, for what BullMQ's API has no cheap
 * call for: the newest event id of a queue's stream, a job's stored trace context (one field, not
 * the whole job), the age of the oldest waiting job, and which of many jobs have ended. BullMQ does not promise this layout;
 * bullmq-layout.spec.ts pins it against a real redis-server and the installed BullMQ, so an
 * upgrade that moves it fails that test instead of silently breaking metrics and traces.
 */
export class BullmqLayout {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  /** The keys BullMQ keeps a queue in: `<prefix>:<queue>:<type>`, a job's hash at `<prefix>:<queue>:<id>`. */
  keys(queue: string) {
    const key = (type: string) => `${this.prefix}:${queue}:${type}`;
    return {
      /** The stream QueueEvents reads. */
      events: key('events'),
      /** Waiting job ids, pushed at the head and taken from the tail. */
      wait: key('wait'),
      /** The wait list's place while the queue is paused. */
      paused: key('paused'),
      job: (jobId: string) => key(jobId),
    };
  }

  /**
   * The id of the newest entry of the queue's event stream, '0-0' when it has none: a QueueEvents
   * started right after it (`lastEventId`) misses nothing written while it connects.
   */
  async newestEventId(queue: string): Promise<string> {
    const newest = await this.redis.xrevrange(this.keys(queue).events, '+', '-', 'COUNT', 1);
    return newest[0]?.[0] ?? '0-0';
  }

  /**
   * The trace context the producer stored with the job (`job.opts.telemetry.metadata`: W3C headers
   * as JSON, kept in the `tm` field of the job's `opts`); null when the job has none or is gone.
   */
  async jobTraceContext(queue: string, jobId: string): Promise<Record<string, string> | null> {
    const raw = await this.redis.hget(this.keys(queue).job(jobId), 'opts');
    const metadata = raw ? (JSON.parse(raw) as { tm?: unknown }).tm : undefined;
    if (typeof metadata !== 'string') return null;
    const headers: unknown = JSON.parse(metadata);
    return headers !== null && typeof headers === 'object' ? (headers as Record<string, string>) : null;
  }

  /**
   * When the oldest job waiting in the queue (paused or not) was added, in ms since the epoch; null
   * when none waits. Two LINDEX and at most two HGET, whatever the queue's length.
   */
  async oldestWaitingTimestamp(queue: string): Promise<number | null> {
    const keys = this.keys(queue);
    const tails = await Promise.all([this.redis.lindex(keys.wait, -1), this.redis.lindex(keys.paused, -1)]);
    // BullMQ 4 left "0:<delay>" markers in the wait list; they are not jobs (BullMQ 5 keeps its marker elsewhere).
    const ids = tails.filter((id): id is string => id !== null && !id.startsWith('0:'));
    const timestamps = await Promise.all(ids.map((id) => this.redis.hget(keys.job(id), 'timestamp')));
    const oldest = Math.min(...timestamps.map(Number).filter((t) => Number.isFinite(t) && t > 0));
    return Number.isFinite(oldest) ? oldest : null;
  }

  /**
   * Which of `jobIds` (of one queue) will still run or are running: their hash exists (a removed
   * or cancelled job, or one dropped by retention, has none) and BullMQ has not set `finishedOn`
   * (set when a job completes or fails for good; a failure with a retry to come leaves it unset).
   * One pipelined HEXISTS + HEXISTS per job, whatever the queue's length.
   */
  async unfinishedJobs(queue: string, jobIds: readonly string[]): Promise<Set<string>> {
    if (jobIds.length === 0) return new Set();
    const keys = this.keys(queue);
    const pipeline = this.redis.pipeline();
    for (const id of jobIds) pipeline.hexists(keys.job(id), 'timestamp').hexists(keys.job(id), 'finishedOn');
    const replies = (await pipeline.exec()) ?? [];
    const unfinished = new Set<string>();
    jobIds.forEach((id, i) => {
      const [existsError, exists] = replies[2 * i] ?? [];
      const [finishedError, finished] = replies[2 * i + 1] ?? [];
      const error = existsError ?? finishedError;
      if (error) throw error;
      if (exists === 1 && finished === 0) unfinished.add(id);
    });
    return unfinished;
  }
}
