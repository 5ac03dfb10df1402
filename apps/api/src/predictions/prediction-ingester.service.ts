import { hostname } from 'node:os';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { PredictionStore } from '@fathom/database';
import type { PredictionRecord } from '@fathom/contracts';
import { createRedisConnection, PredictionStream, RedisAvailability, type RedisClient, type StreamedPrediction } from '@fathom/queue';
import { redisSettings } from '@fathom/config';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { PredictionMetrics } from './prediction-metrics';

/** Records per INSERT. */
const BATCH = 500;
/** How long a blocking read waits for a record (ms): also how soon a stop is noticed. */
const BLOCK_MS = 1_000;
/** Records another instance took and has not written for this long are taken over (it died). */
const CLAIM_IDLE_MS = 60_000;
/** A consumer that has read nothing for this long and holds nothing is forgotten. */
const FORGET_IDLE_MS = 3_600_000;
/** Waits after a failed write: 0.5 s doubling to 30 s. */
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

/**
 * Writes the prediction log (issue 15, ADR 0017): reads the finished jobs' records from the Redis
 * stream as one consumer of a group every API instance joins, inserts them into PostgreSQL in
 * batches (idempotent on the job id), and only then acknowledges and deletes them. While
 * PostgreSQL is away, nothing is acknowledged: the records wait in the stream (bounded by
 * PREDICTION_BUFFER, drops counted) and this consumer retries its own with backoff; records an
 * instance took before dying are taken over after a minute. Never on a job's path.
 */
@Injectable()
export class PredictionIngester implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PredictionIngester.name);
  private readonly consumer = `${hostname()}-${process.pid}`;
  private connection?: RedisClient;
  private reader?: PredictionStream;
  private running?: Promise<void>;
  private stopped = false;
  private wake?: () => void;
  private lastClaim = 0;

  constructor(
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(PredictionStream) private readonly stream: PredictionStream,
    @Inject(PredictionStore) private readonly store: PredictionStore,
    @Inject(PredictionMetrics) private readonly metrics: PredictionMetrics,
    @Inject(RedisAvailability) private readonly availability: RedisAvailability,
  ) {}

  onApplicationBootstrap(): void {
    // Blocking reads hold their connection: one of its own, so other commands never queue behind one.
    this.connection = this.availability.watch(createRedisConnection(redisSettings(this.config), 'blocking'), 'prediction ingester');
    this.reader = new PredictionStream(this.connection, this.config.REDIS_PREFIX, this.config.PREDICTION_BUFFER);
    this.running = this.loop();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
    await this.connection?.quit().catch(() => this.connection?.disconnect());
  }

  /** Writes what waits now, then returns (tests; shutdown of the last instance). */
  async drain(): Promise<void> {
    for (;;) {
      const records = await this.stream.read(this.consumer, { count: BATCH, pending: true });
      const fresh = records.length > 0 ? records : await this.stream.read(this.consumer, { count: BATCH });
      if (fresh.length === 0) return;
      await this.write(fresh);
    }
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let groupReady = false;
    while (!this.stopped) {
      try {
        if (!groupReady) {
          await this.stream.ensureGroup();
          groupReady = true;
        }
        // After a failure, this consumer's own unacknowledged records first (the id 0 read).
        let records = failures > 0 ? await this.stream.read(this.consumer, { count: BATCH, pending: true }) : [];
        if (records.length === 0 && Date.now() - this.lastClaim >= CLAIM_IDLE_MS) {
          this.lastClaim = Date.now();
          records = await this.stream.claimStale(this.consumer, CLAIM_IDLE_MS, BATCH);
          // Consumers of instances long gone, holding nothing (a restart takes a new name): out of the group's list.
          await this.stream.forgetIdleConsumers(this.consumer, FORGET_IDLE_MS);
        }
        if (records.length === 0) records = await this.reader!.read(this.consumer, { count: BATCH, blockMs: BLOCK_MS });
        if (records.length > 0) await this.write(records);
        failures = 0;
      } catch (error) {
        failures += 1;
        // Redis may have lost its data (and the group with it): the next try makes sure it exists.
        groupReady = false;
        if (failures === 1 || failures % 20 === 0)
          this.logger.warn({
            msg: 'prediction records not written yet; they wait in Redis and are retried',
            failures,
            error: error instanceof Error ? error.message : String(error),
          });
        await this.sleep(Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (failures - 1)));
      }
    }
  }

  /**
   * Inserts the valid records, then acknowledges them and the rest; throws (nothing acknowledged)
   * when the insert fails for a reason a retry can cure (PostgreSQL away, a missing table). A batch
   * refused for its data (a value PostgreSQL cannot store) is inserted record by record, and the
   * records refused on their own are removed with a warning, so one bad record never blocks the log.
   */
  private async write(entries: StreamedPrediction[]): Promise<void> {
    const valid = entries.flatMap((entry) => ('record' in entry ? [entry] : []));
    const invalid = entries.flatMap((entry) => ('invalid' in entry ? [entry] : []));
    for (const entry of invalid)
      this.logger.warn({ msg: 'prediction stream entry removed: not a record', id: entry.id, reason: entry.invalid });
    let refused: typeof valid = [];
    try {
      if (valid.length > 0) await this.store.insertMany(valid.map((entry) => entry.record));
    } catch (error) {
      this.metrics.writeFailed();
      if (!isDataError(error)) throw error;
      refused = await this.insertOneByOne(valid);
    }
    await this.stream.done(entries.map((entry) => entry.id));
    this.metrics.recordsWritten(valid.length - refused.length);
    if (invalid.length + refused.length > 0) this.metrics.recordsInvalid(invalid.length + refused.length);
  }

  /** The records PostgreSQL refuses for their data, each logged; throws when it refuses one for another reason. */
  private async insertOneByOne<E extends { id: string; record: PredictionRecord }>(entries: E[]): Promise<E[]> {
    const refused: E[] = [];
    for (const entry of entries) {
      try {
        await this.store.insertMany([entry.record]);
      } catch (error) {
        if (!isDataError(error)) throw error;
        refused.push(entry);
        this.logger.warn({
          msg: 'prediction record removed: PostgreSQL refused its data',
          id: entry.id,
          jobId: entry.record.jobId,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    return refused;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** PostgreSQL refused the values themselves (SQLSTATE class 22, data exception; 23, a constraint): retrying cannot help. */
function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23)/.test(code);
}
