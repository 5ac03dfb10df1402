import { sql, type Selectable, type Transaction } from 'kysely';
import { ErrorCode, FathomError, FINISHED_EVALUATION_STATES, type EvaluationState } from '@fathom/contracts';
import type { Database } from '../database';
import { withDatabase } from '../database-errors';
import { deploymentId as uuidV7 } from '../deployments/deployment.store';
import type { DatabaseSchema, EvaluationSamplesTable, EvaluationsTable } from '../schema';

/** A sample of a run: pending (no job yet) → queued (job id written, then queued) → scored | failed. */
export type EvaluationSampleState = 'pending' | 'queued' | 'scored' | 'failed';

export type StagePercentiles = Record<string, { p50: number; p95: number }>;

/** A row of the evaluations table, as the API uses it. */
export interface EvaluationRecord {
  id: string;
  datasetId: string;
  /** What the client asked for (`depth@canary`). */
  modelReference: string;
  modelName: string;
  modelVersion: string;
  variant: string | null;
  state: EvaluationState;
  total: number;
  done: number;
  failed: number;
  metrics: Record<string, number> | null;
  details: Record<string, unknown> | null;
  latency: StagePercentiles | null;
  throughput: number | null;
  executionProviders: string[];
  error: string | null;
  /** The run's W3C traceparent: every sample's job joins the one trace. */
  traceParent: string | null;
  reportPrefix: string | null;
  cancelRequested: boolean;
  createdAt: string;
  createdBy: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface NewEvaluation {
  datasetId: string;
  modelReference: string;
  modelName: string;
  modelVersion: string;
  variant?: string | null;
  /** The dataset's sample ids in order: sample rows 0…n−1. */
  samples: readonly string[];
  /** The key id that asked for it. */
  createdBy: string;
}

/** A row of evaluation_samples. */
export interface EvaluationSampleRecord {
  index: number;
  sample: string;
  jobId: string | null;
  state: EvaluationSampleState;
  metrics: Record<string, number> | null;
  stats: unknown;
  timings: Record<string, number> | null;
  executionProvider: string | null;
  error: string | null;
  finishedAt: string | null;
}

/** A sample still to be scored: no job yet (pending) or its job queued. */
export type PendingSample = Pick<EvaluationSampleRecord, 'index' | 'sample' | 'jobId' | 'state'>;

export interface SampleScored {
  metrics: Record<string, number>;
  stats: unknown;
  timings: Record<string, number> | null;
  executionProvider: string | null;
}

export interface EvaluationOutcome {
  state: Extract<EvaluationState, 'completed' | 'failed' | 'cancelled'>;
  metrics?: Record<string, number> | null;
  details?: Record<string, unknown> | null;
  latency?: StagePercentiles | null;
  throughput?: number | null;
  executionProviders?: readonly string[];
  error?: string | null;
  reportPrefix?: string | null;
}

const UNFINISHED: EvaluationState[] = ['queued', 'running'];
const SAMPLE_FINISHED: EvaluationSampleState[] = ['scored', 'failed'];

/**
 * Evaluation runs and their samples in PostgreSQL (issue 14). A run is resumable after an API
 * restart because its progress is rows: a sample's job id is written before its job is queued,
 * and a sample is counted once — scoring or failing it is conditional on it not having ended, in
 * the same transaction as the run's counter, so two instances seeing the same job end count it once.
 */
export class EvaluationStore {
  constructor(private readonly db: Database) {}

  /** A run in state `queued` with one pending sample row per dataset sample, in one transaction. */
  create(spec: NewEvaluation): Promise<EvaluationRecord> {
    return withDatabase(() =>
      this.db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('evaluations')
          .values({
            id: uuidV7(),
            dataset_id: spec.datasetId,
            model_reference: spec.modelReference,
            model_name: spec.modelName,
            model_version: spec.modelVersion,
            variant: spec.variant ?? null,
            state: 'queued',
            total: spec.samples.length,
            metrics: JSON.stringify(null),
            details: JSON.stringify(null),
            latency: JSON.stringify(null),
            throughput: null,
            error: null,
            trace_parent: null,
            report_prefix: null,
            created_by: spec.createdBy,
            started_at: null,
            finished_at: null,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        // In chunks: one INSERT's parameters are limited (65535), a dataset is not.
        for (let start = 0; start < spec.samples.length; start += 1_000) {
          await trx
            .insertInto('evaluation_samples')
            .values(
              spec.samples.slice(start, start + 1_000).map((sample, offset) => ({
                evaluation_id: row.id,
                index: start + offset,
                sample,
                job_id: null,
                state: 'pending',
                metrics: JSON.stringify(null),
                stats: JSON.stringify(null),
                timings: JSON.stringify(null),
                execution_provider: null,
                error: null,
                finished_at: null,
              })),
            )
            .execute();
        }
        return toEvaluationRecord(row);
      }),
    );
  }

  /** The run by id, or undefined. */
  find(id: string): Promise<EvaluationRecord | undefined> {
    return withDatabase(async () => {
      const row = await this.db.selectFrom('evaluations').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toEvaluationRecord(row);
    });
  }

  /** The run by id, or 404 evaluation_not_found. */
  async get(id: string): Promise<EvaluationRecord> {
    const record = await this.find(id);
    if (!record) throw new FathomError(ErrorCode.EvaluationNotFound, `No evaluation has id ${id}. See GET /v1/evaluations.`);
    return record;
  }

  /** Runs newest first, optionally of one model (name), one dataset (by name or id). */
  list(
    filter: { model?: string; dataset?: string; datasetId?: string; createdBy?: string; limit?: number } = {},
  ): Promise<EvaluationRecord[]> {
    return withDatabase(async () => {
      let query = this.db
        .selectFrom('evaluations')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit ?? 100);
      if (filter.model !== undefined) query = query.where('model_name', '=', filter.model);
      if (filter.createdBy !== undefined) query = query.where('created_by', '=', filter.createdBy);
      if (filter.datasetId !== undefined) query = query.where('dataset_id', '=', filter.datasetId);
      if (filter.dataset !== undefined) {
        const name = filter.dataset;
        query = query.where('dataset_id', 'in', (eb) => eb.selectFrom('datasets').select('id').where('name', '=', name));
      }
      const rows = await query.execute();
      return rows.map(toEvaluationRecord);
    });
  }

  /** Ids of runs not finished (queued or running), oldest first: what an instance picks up, after a restart too. */
  claimable(): Promise<string[]> {
    return withDatabase(async () => {
      const rows = await this.db
        .selectFrom('evaluations')
        .select('id')
        .where('state', 'in', UNFINISHED)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map((r) => r.id);
    });
  }

  /**
   * Marks a queued (or, resumed, running) run running; the first trace parent stays, so a resumed
   * run joins its trace. Undefined when it has finished.
   */
  markRunning(id: string, traceParent: string | null): Promise<EvaluationRecord | undefined> {
    return withDatabase(async () => {
      const row = await this.db
        .updateTable('evaluations')
        .set({
          state: 'running',
          started_at: sql<Date>`coalesce(started_at, now())`,
          trace_parent: sql<string | null>`coalesce(trace_parent, ${traceParent})`,
        })
        .where('id', '=', id)
        .where('state', 'in', UNFINISHED)
        .returningAll()
        .executeTakeFirst();
      return row && toEvaluationRecord(row);
    });
  }

  /** Writes a sample's job id before its job is queued (state `queued`); false when the sample has ended already. */
  setJob(evaluationId: string, index: number, jobId: string): Promise<boolean> {
    return withDatabase(async () => {
      const result = await this.db
        .updateTable('evaluation_samples')
        .set({ job_id: jobId, state: 'queued' })
        .where('evaluation_id', '=', evaluationId)
        .where('index', '=', index)
        // Only a sample without a job: two instances racing for it queue one job, not two.
        .where('job_id', 'is', null)
        .where('state', 'not in', SAMPLE_FINISHED)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  /**
   * Records a sample's score and counts it done; the run as it is after that, or undefined when
   * the sample had ended already (not counted twice).
   */
  scored(evaluationId: string, index: number, score: SampleScored): Promise<EvaluationRecord | undefined> {
    return this.endSample(evaluationId, index, 'scored', {
      metrics: JSON.stringify(score.metrics),
      stats: JSON.stringify(score.stats ?? null),
      timings: JSON.stringify(score.timings),
      execution_provider: score.executionProvider,
      error: null,
    });
  }

  /** Records why a sample failed and counts it failed; undefined when it had ended already (not counted twice). */
  failedSample(evaluationId: string, index: number, error: string): Promise<EvaluationRecord | undefined> {
    return this.endSample(evaluationId, index, 'failed', { error });
  }

  /** Samples still to score (pending or queued, with their job ids), in order. */
  /**
   * What a runner's pass needs, in two bounded reads: the samples whose jobs are queued (at most the
   * window), and the next `limit` samples without a job, in order. Both empty: every sample ended.
   */
  openSamples(evaluationId: string, limit: number): Promise<{ inFlight: PendingSample[]; next: PendingSample[] }> {
    return withDatabase(async () => {
      const row = (r: { index: number; sample: string; job_id: string | null; state: string }): PendingSample => ({
        index: r.index,
        sample: r.sample,
        jobId: r.job_id,
        state: r.state as EvaluationSampleState,
      });
      const base = this.db
        .selectFrom('evaluation_samples')
        .select(['index', 'sample', 'job_id', 'state'])
        .where('evaluation_id', '=', evaluationId)
        .where('state', 'not in', SAMPLE_FINISHED);
      const [inFlight, next] = await Promise.all([
        base.where('job_id', 'is not', null).orderBy('index').execute(),
        base.where('job_id', 'is', null).orderBy('index').limit(Math.max(0, limit)).execute(),
      ]);
      return { inFlight: inFlight.map(row), next: next.map(row) };
    });
  }

  pendingSamples(evaluationId: string): Promise<PendingSample[]> {
    return withDatabase(async () => {
      const rows = await this.db
        .selectFrom('evaluation_samples')
        .select(['index', 'sample', 'job_id', 'state'])
        .where('evaluation_id', '=', evaluationId)
        .where('state', 'not in', SAMPLE_FINISHED)
        .orderBy('index')
        .execute();
      return rows.map((r) => ({ index: r.index, sample: r.sample, jobId: r.job_id, state: r.state as EvaluationSampleState }));
    });
  }

  /** Every sample of a run, in order. */
  samples(evaluationId: string): Promise<EvaluationSampleRecord[]> {
    return withDatabase(async () => {
      const rows = await this.db
        .selectFrom('evaluation_samples')
        .selectAll()
        .where('evaluation_id', '=', evaluationId)
        .orderBy('index')
        .execute();
      return rows.map(toSampleRecord);
    });
  }

  /** Ends a run (completed, failed or cancelled) with its figures; undefined when it had ended already. */
  finish(id: string, outcome: EvaluationOutcome): Promise<EvaluationRecord | undefined> {
    return withDatabase(async () => {
      const row = await this.db
        .updateTable('evaluations')
        .set({
          state: outcome.state,
          finished_at: sql<Date>`now()`,
          ...(outcome.metrics !== undefined ? { metrics: JSON.stringify(outcome.metrics) } : {}),
          ...(outcome.details !== undefined ? { details: JSON.stringify(outcome.details) } : {}),
          ...(outcome.latency !== undefined ? { latency: JSON.stringify(outcome.latency) } : {}),
          ...(outcome.throughput !== undefined ? { throughput: outcome.throughput } : {}),
          ...(outcome.executionProviders !== undefined ? { execution_providers: JSON.stringify(outcome.executionProviders) } : {}),
          ...(outcome.error !== undefined ? { error: outcome.error } : {}),
          ...(outcome.reportPrefix !== undefined ? { report_prefix: outcome.reportPrefix } : {}),
        })
        .where('id', '=', id)
        .where('state', 'not in', FINISHED_EVALUATION_STATES)
        .returningAll()
        .executeTakeFirst();
      return row && toEvaluationRecord(row);
    });
  }

  /** Asks the run to stop (the runner reads it between samples); the run as it is now, or undefined when there is none. */
  requestCancel(id: string): Promise<EvaluationRecord | undefined> {
    return withDatabase(async () => {
      const row = await this.db
        .updateTable('evaluations')
        .set({ cancel_requested: true })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return row && toEvaluationRecord(row);
    });
  }

  /**
   * Each model version's latest completed run on each dataset version (`fathom_eval_metric`):
   * model, version, the dataset as name@version, and its metrics.
   */
  latestPerVersion(): Promise<
    Array<{ model: string; version: string; variant: string; dataset: string; metrics: Record<string, number> }>
  > {
    return withDatabase(async () => {
      const rows = await this.db
        .selectFrom('evaluations as e')
        .innerJoin('datasets as d', 'd.id', 'e.dataset_id')
        .select(['e.model_name', 'e.model_version', 'e.variant', 'd.name', 'd.version', 'e.metrics'])
        .distinctOn(['e.model_name', 'e.model_version', 'e.variant', 'e.dataset_id'])
        .where('e.state', '=', 'completed')
        .where('e.metrics', 'is not', null)
        .orderBy('e.model_name')
        .orderBy('e.model_version')
        .orderBy('e.variant')
        .orderBy('e.dataset_id')
        .orderBy('e.finished_at', 'desc')
        .execute();
      return rows.map((r) => ({
        model: r.model_name,
        version: r.model_version,
        variant: r.variant ?? '',
        dataset: `${r.name}@${r.version}`,
        metrics: r.metrics ?? {},
      }));
    });
  }

  /**
   * The newest completed run of this model version (and variant; null = the base) on this dataset
   * version, to reuse; `running`: one still queued or running counts too (a comparison waits for it
   * rather than start another).
   */
  latestCompleted(
    of: {
      datasetId: string;
      modelName: string;
      modelVersion: string;
      variant?: string | null;
      /** Only runs this key started. */
      createdBy?: string;
    },
    running = false,
  ): Promise<EvaluationRecord | undefined> {
    return withDatabase(async () => {
      const row = await this.db
        .selectFrom('evaluations')
        .selectAll()
        .where('dataset_id', '=', of.datasetId)
        .where('model_name', '=', of.modelName)
        .where('model_version', '=', of.modelVersion)
        .where('variant', 'is not distinct from', of.variant ?? null)
        .where('state', 'in', running ? ['completed', 'queued', 'running'] : ['completed'])
        .$if(of.createdBy !== undefined, (q) => q.where('created_by', '=', of.createdBy!))
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row && toEvaluationRecord(row);
    });
  }

  private endSample(
    evaluationId: string,
    index: number,
    state: 'scored' | 'failed',
    values: Partial<{
      metrics: string;
      stats: string;
      timings: string;
      execution_provider: string | null;
      error: string | null;
    }>,
  ): Promise<EvaluationRecord | undefined> {
    return withDatabase(() =>
      this.db.transaction().execute(async (trx: Transaction<DatabaseSchema>) => {
        const ended = await trx
          .updateTable('evaluation_samples')
          .set({ ...values, state, finished_at: sql<Date>`now()` })
          .where('evaluation_id', '=', evaluationId)
          .where('index', '=', index)
          .where('state', 'not in', SAMPLE_FINISHED)
          .executeTakeFirst();
        if (ended.numUpdatedRows === 0n) return undefined;
        const row = await trx
          .updateTable('evaluations')
          .set(state === 'scored' ? { done: sql<number>`done + 1` } : { failed: sql<number>`failed + 1` })
          .where('id', '=', evaluationId)
          .returningAll()
          .executeTakeFirstOrThrow();
        return toEvaluationRecord(row);
      }),
    );
  }
}

const iso = (at: Date | string): string => new Date(at).toISOString();
const isoOrNull = (at: Date | string | null): string | null => (at === null ? null : iso(at));

function toEvaluationRecord(row: Selectable<EvaluationsTable>): EvaluationRecord {
  return {
    id: row.id,
    datasetId: row.dataset_id,
    modelReference: row.model_reference,
    modelName: row.model_name,
    modelVersion: row.model_version,
    variant: row.variant,
    state: row.state as EvaluationState,
    total: row.total,
    done: row.done,
    failed: row.failed,
    metrics: row.metrics,
    details: row.details,
    latency: row.latency,
    throughput: row.throughput,
    executionProviders: row.execution_providers,
    error: row.error,
    traceParent: row.trace_parent,
    reportPrefix: row.report_prefix,
    cancelRequested: row.cancel_requested,
    createdAt: iso(row.created_at),
    createdBy: row.created_by,
    startedAt: isoOrNull(row.started_at),
    finishedAt: isoOrNull(row.finished_at),
  };
}

function toSampleRecord(row: Selectable<EvaluationSamplesTable>): EvaluationSampleRecord {
  return {
    index: row.index,
    sample: row.sample,
    jobId: row.job_id,
    state: row.state as EvaluationSampleState,
    metrics: row.metrics,
    stats: row.stats,
    timings: row.timings,
    executionProvider: row.execution_provider,
    error: row.error,
    finishedAt: isoOrNull(row.finished_at),
  };
}
