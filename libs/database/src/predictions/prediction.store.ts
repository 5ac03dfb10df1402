import { sql, type Selectable } from 'kysely';
import type {
  FeedbackRating,
  InputFeatures,
  OutputFeatures,
  PredictionPurpose,
  PredictionRecord,
  PredictionStatus,
} from '@fathom/contracts';
import type { Database } from '../database';
import { withDatabase } from '../database-errors';
import type { PredictionsTable } from '../schema';

export type { FeedbackRating, PredictionPurpose, PredictionStatus } from '@fathom/contracts';

/** One finished job in the prediction log (issue 15), with its owner's feedback when given. */
export interface PredictionRow extends PredictionRecord {
  feedback: PredictionFeedback | null;
}

/** A logged job's features: what drift reads. */
export interface PredictionFeaturesRow {
  input: InputFeatures | null;
  output: OutputFeatures | null;
  finishedAt: string;
}

export interface PredictionFeedback {
  rating: FeedbackRating;
  comment: string | null;
  correction: unknown;
  at: string;
  by: string;
}

/** A row as logged: without feedback (that comes later, from the job's owner). */
export type NewPrediction = PredictionRecord;

export interface PredictionFilter {
  model?: string;
  version?: string;
  /** finished_at ≥ from */
  from?: Date | string;
  /** finished_at < to */
  to?: Date | string;
  status?: PredictionStatus;
  keyId?: string;
  purpose?: PredictionPurpose;
  /** Only these jobs. */
  jobIds?: readonly string[];
  evaluationId?: string;
}

export interface PredictionPageQuery extends PredictionFilter {
  /** The `next` of the previous page. */
  after?: string;
  limit: number;
}

export interface PredictionPage {
  rows: PredictionRow[];
  /** Undefined on the last page. */
  next: string | undefined;
}

export interface FeedbackInput {
  rating: FeedbackRating;
  comment?: string | null;
  correction?: unknown;
}

/**
 * The prediction log in PostgreSQL. Rows are paged by (finished_at, job_id), oldest first, with an
 * opaque cursor, so an export walks the log once even while new rows arrive.
 */
export class PredictionStore {
  constructor(private readonly db: Database) {}

  /** One multi-row INSERT; a job already logged is left as it is, so a retried write never duplicates. */
  async insertMany(rows: readonly NewPrediction[]): Promise<number> {
    if (rows.length === 0) return 0;
    const result = await withDatabase(() =>
      this.db
        .insertInto('predictions')
        .values(rows.map(toTable))
        .onConflict((oc) => oc.column('job_id').doNothing())
        .executeTakeFirst(),
    );
    return Number(result.numInsertedOrUpdatedRows ?? 0);
  }

  async page(query: PredictionPageQuery): Promise<PredictionPage> {
    const limit = Math.max(1, Math.floor(query.limit));
    const after = query.after === undefined ? undefined : decodeCursor(query.after);
    const rows = await withDatabase(() => {
      let select = this.filtered(query).selectAll();
      if (after !== undefined) {
        select = select.where(sql<boolean>`(finished_at, job_id) > (${new Date(after.at)}::timestamptz, ${after.jobId})`);
      }
      // One row more than asked tells whether there is a next page.
      return select
        .orderBy('finished_at')
        .orderBy('job_id')
        .limit(limit + 1)
        .execute();
    });
    const page = rows.slice(0, limit).map(toRow);
    const last = page.at(-1);
    return { rows: page, next: rows.length > limit && last !== undefined ? encodeCursor(last) : undefined };
  }

  /**
   * The features of a model version's latest completed production jobs, newest first: drift's
   * window, `limit` rows at most, none finished before `since`.
   */
  async latestFeatures(spec: { model: string; version: string; limit: number; since?: Date }): Promise<PredictionFeaturesRow[]> {
    const rows = await withDatabase(() => {
      let select = this.db
        .selectFrom('predictions')
        .select(['input_features', 'output_features', 'finished_at'])
        .where('model', '=', spec.model)
        .where('version', '=', spec.version)
        .where('purpose', '=', 'production')
        .where('status', '=', 'completed')
        // A row whose features could not be computed says nothing of drift: it does not take a window place.
        .where((eb) => eb.or([eb('input_features', 'is not', null), eb('output_features', 'is not', null)]));
      if (spec.since) select = select.where('finished_at', '>=', spec.since);
      return select
        .orderBy('finished_at', 'desc')
        .limit(Math.max(1, Math.floor(spec.limit)))
        .execute();
    });
    return rows.map(toFeaturesRow);
  }

  /**
   * The features of the completed jobs a filter picks (a drift reference's rows), `limit` at most:
   * the oldest, or with `sample` an even sample across the whole filter (ordered by a hash of the
   * job id), so a busy week's reference is not its first few hours.
   */
  async features(filter: PredictionFilter, limit: number, order: 'oldest' | 'sample' = 'oldest'): Promise<PredictionFeaturesRow[]> {
    const rows = await withDatabase(() => {
      const select = this.filtered({ ...filter, status: 'completed' })
        .select(['input_features', 'output_features', 'finished_at'])
        .where((eb) => eb.or([eb('input_features', 'is not', null), eb('output_features', 'is not', null)]));
      const ordered = order === 'sample' ? select.orderBy(sql`md5(job_id)`) : select.orderBy('finished_at').orderBy('job_id');
      return ordered.limit(Math.max(1, Math.floor(limit))).execute();
    });
    return rows.map(toFeaturesRow);
  }

  /** The rows a filter picks. */
  private filtered(query: PredictionFilter) {
    let select = this.db.selectFrom('predictions');
    if (query.model !== undefined) select = select.where('model', '=', query.model);
    if (query.version !== undefined) select = select.where('version', '=', query.version);
    if (query.status !== undefined) select = select.where('status', '=', query.status);
    if (query.keyId !== undefined) select = select.where('key_id', '=', query.keyId);
    if (query.purpose !== undefined) select = select.where('purpose', '=', query.purpose);
    if (query.evaluationId !== undefined) select = select.where('evaluation_id', '=', query.evaluationId);
    if (query.jobIds !== undefined) select = select.where('job_id', 'in', query.jobIds.length > 0 ? [...query.jobIds] : ['']);
    if (query.from !== undefined) select = select.where('finished_at', '>=', new Date(query.from));
    if (query.to !== undefined) select = select.where('finished_at', '<', new Date(query.to));
    return select;
  }

  /** When the version's first production job finished (a "first N days" reference starts there). */
  async firstFinished(model: string, version: string): Promise<string | undefined> {
    const row = await withDatabase(() =>
      this.db
        .selectFrom('predictions')
        .select((eb) => eb.fn.min('finished_at').as('first'))
        .where('model', '=', model)
        .where('version', '=', version)
        .where('purpose', '=', 'production')
        .executeTakeFirst(),
    );
    return row?.first ? iso(row.first) : undefined;
  }

  /** Pages of the filtered log, oldest first, for export. */
  async *stream(filter: PredictionFilter, pageSize = 1_000): AsyncGenerator<PredictionRow[]> {
    let after: string | undefined;
    do {
      const { rows, next } = await this.page({ ...filter, after, limit: pageSize });
      if (rows.length > 0) yield rows;
      after = next;
    } while (after !== undefined);
  }

  /** Feedback on a job, by the key that ran it only; undefined when there is no such job of that key. */
  async setFeedback(jobId: string, keyId: string, feedback: FeedbackInput): Promise<PredictionRow | undefined> {
    const row = await withDatabase(() =>
      this.db
        .updateTable('predictions')
        .set({
          feedback_rating: feedback.rating,
          feedback_comment: feedback.comment ?? null,
          feedback_correction: JSON.stringify(feedback.correction ?? null),
          feedback_at: new Date(),
          feedback_by: keyId,
        })
        .where('job_id', '=', jobId)
        .where('key_id', '=', keyId)
        .returningAll()
        .executeTakeFirst(),
    );
    return row === undefined ? undefined : toRow(row);
  }

  /**
   * Every model with rows in the log, by name: one index probe per model (a loose index scan over
   * predictions_by_model), not a scan of the log.
   */
  async models(): Promise<string[]> {
    const { rows } = await withDatabase(() =>
      sql<{ model: string }>`
        WITH RECURSIVE models(model) AS (
          (SELECT model FROM predictions ORDER BY model LIMIT 1)
          UNION ALL
          SELECT (SELECT p.model FROM predictions p WHERE p.model > models.model ORDER BY p.model LIMIT 1)
          FROM models WHERE models.model IS NOT NULL
        )
        SELECT model FROM models WHERE model IS NOT NULL`.execute(this.db),
    );
    return rows.map((row) => row.model);
  }

  /**
   * Deletes a model's rows finished before `before`, `batch` rows per statement so that no
   * statement holds many locks or runs long; returns how many went.
   */
  async deleteOlderThan(spec: { model: string; before: Date | string; batch: number }): Promise<number> {
    const before = new Date(spec.before);
    const batch = Math.max(1, Math.floor(spec.batch));
    let deleted = 0;
    for (;;) {
      const result = await withDatabase(() =>
        this.db
          .deleteFrom('predictions')
          .where('job_id', 'in', (eb) =>
            eb.selectFrom('predictions').select('job_id').where('model', '=', spec.model).where('finished_at', '<', before).limit(batch),
          )
          .executeTakeFirst(),
      );
      const count = Number(result.numDeletedRows);
      deleted += count;
      if (count < batch) return deleted;
    }
  }
}

function encodeCursor(row: PredictionRow): string {
  return Buffer.from(JSON.stringify([row.finishedAt, row.jobId])).toString('base64url');
}

function decodeCursor(cursor: string): { at: string; jobId: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string') {
      const at = parsed[0];
      if (!Number.isNaN(new Date(at).getTime())) return { at, jobId: parsed[1] };
    }
  } catch {
    // Falls through to the error below.
  }
  throw new RangeError(`not a prediction page cursor: ${cursor}; send the "next" of the previous page`);
}

const iso = (at: Date | string): string => new Date(at).toISOString();
const isoOrNull = (at: Date | string | null): string | null => (at === null ? null : iso(at));

function toTable(row: NewPrediction) {
  return {
    job_id: row.jobId,
    finished_at: new Date(row.finishedAt),
    submitted_at: row.submittedAt === null ? null : new Date(row.submittedAt),
    model: row.model,
    version: row.version,
    variant: row.variant,
    route: row.route,
    task: row.task,
    key_id: row.keyId,
    status: row.status,
    error_code: row.errorCode,
    timings: JSON.stringify(row.timings),
    execution_provider: row.executionProvider,
    trace_id: row.traceId,
    input_features: JSON.stringify(row.inputFeatures),
    output_features: JSON.stringify(row.outputFeatures),
    evaluation_id: row.evaluationId,
    purpose: row.purpose,
  };
}

function toFeaturesRow(row: { input_features: unknown; output_features: unknown; finished_at: Date }): PredictionFeaturesRow {
  return {
    input: row.input_features as InputFeatures | null,
    output: row.output_features as OutputFeatures | null,
    finishedAt: iso(row.finished_at),
  };
}

function toRow(row: Selectable<PredictionsTable>): PredictionRow {
  return {
    jobId: row.job_id,
    finishedAt: iso(row.finished_at),
    submittedAt: isoOrNull(row.submitted_at),
    model: row.model,
    version: row.version,
    variant: row.variant,
    route: row.route,
    task: row.task,
    keyId: row.key_id,
    status: row.status as PredictionStatus,
    errorCode: row.error_code,
    timings: row.timings,
    executionProvider: row.execution_provider,
    traceId: row.trace_id,
    inputFeatures: row.input_features as InputFeatures | null,
    outputFeatures: row.output_features as OutputFeatures | null,
    evaluationId: row.evaluation_id,
    purpose: row.purpose as PredictionPurpose,
    feedback:
      row.feedback_rating === null
        ? null
        : {
            rating: row.feedback_rating as FeedbackRating,
            comment: row.feedback_comment,
            correction: row.feedback_correction,
            at: iso(row.feedback_at ?? row.finished_at),
            by: row.feedback_by ?? '',
          },
  };
}
