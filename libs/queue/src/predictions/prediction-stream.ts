import { predictionRecordSchema, type PredictionRecord } from '@fathom/contracts';
import type { RedisClient } from '../redis-connection';
import { redisKeys } from '../redis-keys';

/** The consumer group the API's ingesters share: each record is handed to one of them. */
export const PREDICTION_GROUP = 'ingest';

/** The stream's bound when none is configured: at ~1.5 KB a record, about 75 MB of Redis at most. */
export const DEFAULT_PREDICTION_BUFFER = 50_000;

/**
 * Appends records, then trims the stream to its bound, oldest first (exactly: `=`), and counts
 * what the trim removed. ARGV[1] is the bound, the rest are the records as JSON.
 */
const APPEND = `
for i = 2, #ARGV do redis.call('XADD', KEYS[1], '*', 'r', ARGV[i]) end
local trimmed = redis.call('XTRIM', KEYS[1], 'MAXLEN', '=', ARGV[1])
if trimmed > 0 then redis.call('INCRBY', KEYS[2], trimmed) end
return trimmed
`;

interface AppendCommand {
  fathomAppendPredictions(stream: string, dropped: string, bound: number, ...records: string[]): Promise<number>;
}

/**
 * A record read from the stream: its id (to acknowledge) and the record, why it could not be read,
 * or `gone`: a record this consumer was handed whose entry the bound trimmed since (already counted
 * as dropped), which is only to be acknowledged.
 */
export type StreamedPrediction = { id: string; record: PredictionRecord } | { id: string; invalid: string } | { id: string; gone: true };

/** Redis 7 answers a pending entry that was trimmed as [id, null]; XAUTOCLAIM lists them apart. */
type RawEntry = [id: string, fields: string[] | null] | null;

/**
 * The prediction log's way from whoever saw a job end (a worker, or the API for a cancellation) to
 * PostgreSQL (ADR 0017): a Redis stream, read by the API's ingesters through one consumer group.
 * A record leaves the stream once it is in the database (acknowledged and deleted), so the
 * stream's length is what waits; it is bounded, and a record pushed out by the bound is counted,
 * never silently lost. Redis Cluster: the stream and its counter share a hash tag.
 */
export class PredictionStream {
  private readonly keys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    /** The most records the stream holds (PREDICTION_BUFFER). */
    readonly capacity: number = DEFAULT_PREDICTION_BUFFER,
  ) {
    this.keys = redisKeys(prefix);
    if (!(redis as Partial<AppendCommand>).fathomAppendPredictions)
      redis.defineCommand('fathomAppendPredictions', { numberOfKeys: 2, lua: APPEND });
  }

  /** Appends records in one script; resolves with how many older records the bound pushed out. */
  async append(records: readonly PredictionRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    const command = this.redis as unknown as AppendCommand;
    return command.fathomAppendPredictions(
      this.keys.predictions,
      this.keys.predictionsDropped,
      this.capacity,
      ...records.map((record) => JSON.stringify(record)),
    );
  }

  /** Creates the consumer group when it is missing, reading from the stream's start (records written before any API ran included). */
  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.keys.predictions, PREDICTION_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!(error instanceof Error && error.message.includes('BUSYGROUP'))) throw error;
    }
  }

  /**
   * Up to `count` records for `consumer`: new ones (waiting at most `blockMs` for one, on a
   * connection of its own), or with `pending` those it was handed before and has not acknowledged.
   */
  async read(consumer: string, opts: { count: number; blockMs?: number; pending?: boolean }): Promise<StreamedPrediction[]> {
    const args: (string | number)[] = ['GROUP', PREDICTION_GROUP, consumer, 'COUNT', opts.count];
    if (!opts.pending && opts.blockMs !== undefined) args.push('BLOCK', opts.blockMs);
    args.push('STREAMS', this.keys.predictions, opts.pending ? '0' : '>');
    const reply = (await this.redis.call('XREADGROUP', ...args)) as [string, RawEntry[]][] | null;
    return (reply?.[0]?.[1] ?? []).flatMap(parseEntry);
  }

  /** Takes over records handed to a consumer that has not acknowledged them for `idleMs` (an API instance that died). */
  async claimStale(consumer: string, idleMs: number, count: number): Promise<StreamedPrediction[]> {
    const reply = (await this.redis.call(
      'XAUTOCLAIM',
      this.keys.predictions,
      PREDICTION_GROUP,
      consumer,
      idleMs,
      '0-0',
      'COUNT',
      count,
    )) as [string, RawEntry[]];
    return (reply[1] ?? []).flatMap(parseEntry);
  }

  /**
   * Removes from the group the consumers that hold no record and have not read for `idleMs` (API
   * instances that restarted under a new name), other than `self`; returns their names.
   */
  async forgetIdleConsumers(self: string, idleMs: number): Promise<string[]> {
    const reply = (await this.redis.call('XINFO', 'CONSUMERS', this.keys.predictions, PREDICTION_GROUP)) as Array<Array<string | number>>;
    const idle = reply
      .map((fields) => {
        const info = new Map<string, string | number>();
        for (let i = 0; i + 1 < fields.length; i += 2) info.set(String(fields[i]), fields[i + 1]!);
        return { name: String(info.get('name')), pending: Number(info.get('pending')), idle: Number(info.get('idle')) };
      })
      .filter((c) => c.name !== self && c.pending === 0 && c.idle > idleMs);
    for (const { name } of idle) await this.redis.call('XGROUP', 'DELCONSUMER', this.keys.predictions, PREDICTION_GROUP, name);
    return idle.map((c) => c.name);
  }

  /** The records are in the database: acknowledged and removed, in one transaction. */
  async done(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.redis
      .multi()
      .xack(this.keys.predictions, PREDICTION_GROUP, ...ids)
      .xdel(this.keys.predictions, ...ids)
      .exec();
  }

  /** Records waiting for the database (read or not). */
  async length(): Promise<number> {
    return this.redis.xlen(this.keys.predictions);
  }

  /** Records the bound has pushed out, ever (the counter survives restarts with Redis's data). */
  async dropped(): Promise<number> {
    return Number((await this.redis.get(this.keys.predictionsDropped)) ?? 0);
  }
}

/** One stream entry; a deleted one (trimmed while pending) reads as null and is skipped. */
function parseEntry(entry: RawEntry): StreamedPrediction[] {
  if (entry === null) return [];
  const [id, fields] = entry;
  if (fields === null) return [{ id, gone: true }];
  const index = fields.indexOf('r');
  const json = index >= 0 ? fields[index + 1] : undefined;
  if (json === undefined) return [{ id, invalid: 'no record field' }];
  try {
    const parsed = predictionRecordSchema.safeParse(JSON.parse(json));
    return [parsed.success ? { id, record: parsed.data } : { id, invalid: parsed.error.issues[0]?.message ?? 'not a prediction record' }];
  } catch (error) {
    return [{ id, invalid: error instanceof Error ? error.message : String(error) }];
  }
}
