import type { RedisClient } from './redis-connection';
import { z } from 'zod';
import { modelRefSchema } from '@fathom/contracts';
import { redisKeys } from './redis-keys';

/**
 * A small record per accepted job that outlives the job itself: it says which queue holds the job
 * and lets the API answer 410 (expired) instead of 404 (never existed) after retention, and
 * `cancelled` after a queued job was removed.
 */
export const jobRecordSchema = z.object({
  id: z.string(),
  queue: z.string(),
  model: modelRefSchema,
  createdAt: z.number().int(),
  filename: z.string().optional(),
  traceId: z.string().optional(),
  /** The client's deadline (ms since the epoch), shown in the status. */
  deadline: z.number().int().optional(),
  cancelledAt: z.number().int().optional(),
  /** The key that submitted the job: only it may read, download, cancel or subscribe to it. Absent: 'local'. */
  keyId: z.string().optional(),
});
export type JobRecord = z.infer<typeof jobRecordSchema>;

/** How long a record survives its job, so late pollers get 410 rather than 404. */
export const TOMBSTONE_GRACE_SECONDS = 7 * 24 * 3600;

export class JobRecordStore {
  private readonly keys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly retentionSeconds: number,
  ) {
    this.keys = redisKeys(prefix);
  }

  async create(record: JobRecord): Promise<void> {
    await this.redis.set(this.keys.jobRecord(record.id), JSON.stringify(record), 'EX', this.ttl());
  }

  async get(jobId: string): Promise<JobRecord | null> {
    const raw = await this.redis.get(this.keys.jobRecord(jobId));
    return raw === null ? null : jobRecordSchema.parse(JSON.parse(raw));
  }

  async setCancelled(record: JobRecord, cancelledAt: number | undefined): Promise<void> {
    await this.redis.set(this.keys.jobRecord(record.id), JSON.stringify({ ...record, cancelledAt }), 'KEEPTTL');
  }

  async delete(jobId: string): Promise<void> {
    await this.redis.del(this.keys.jobRecord(jobId));
  }

  private ttl(): number {
    return this.retentionSeconds + TOMBSTONE_GRACE_SECONDS;
  }
}
