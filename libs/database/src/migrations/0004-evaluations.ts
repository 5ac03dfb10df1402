import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Datasets, evaluation runs and their samples, and promotion gates (issue 14, ADR 0016). A
 * dataset's bytes are in the object store under `store_prefix`; its row holds the manifest as
 * checked (samples and their files). An evaluation's samples are rows so that a run survives an
 * API restart: a sample's job id is written before its job is queued, its statistics when scored.
 */
export const evaluationsMigration: Migration = {
  up: async (db: Kysely<unknown>) => {
    await db.schema
      .createTable('datasets')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('task', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('licence', 'text')
      .addColumn('samples', 'integer', (c) => c.notNull())
      .addColumn('bytes', 'bigint', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('store_prefix', 'text', (c) => c.notNull())
      // SHA-256 over the dataset's files (paths and contents): a built-in is registered again only when it changed.
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('manifest', 'jsonb', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addUniqueConstraint('datasets_name_version', ['name', 'version'])
      .execute();
    await db.schema
      .createTable('evaluations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('dataset_id', 'text', (c) => c.notNull().references('datasets.id'))
      .addColumn('model_reference', 'text', (c) => c.notNull())
      .addColumn('model_name', 'text', (c) => c.notNull())
      .addColumn('model_version', 'text', (c) => c.notNull())
      .addColumn('variant', 'text')
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('total', 'integer', (c) => c.notNull())
      .addColumn('done', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('failed', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('metrics', 'jsonb')
      .addColumn('details', 'jsonb')
      .addColumn('latency', 'jsonb')
      .addColumn('throughput', 'double precision')
      .addColumn('execution_providers', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
      .addColumn('error', 'text')
      // The run's W3C trace context (traceparent): every sample's job joins the one trace.
      .addColumn('trace_parent', 'text')
      .addColumn('report_prefix', 'text')
      .addColumn('cancel_requested', 'boolean', (c) => c.notNull().defaultTo(false))
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('started_at', 'timestamptz')
      .addColumn('finished_at', 'timestamptz')
      .execute();
    await db.schema.createIndex('evaluations_by_state').on('evaluations').columns(['state']).execute();
    await db.schema
      .createIndex('evaluations_by_model')
      .on('evaluations')
      .columns(['model_name', 'model_version', 'dataset_id', 'created_at'])
      .execute();
    await db.schema
      .createTable('evaluation_samples')
      .addColumn('evaluation_id', 'text', (c) => c.notNull().references('evaluations.id').onDelete('cascade'))
      .addColumn('index', 'integer', (c) => c.notNull())
      .addColumn('sample', 'text', (c) => c.notNull())
      .addColumn('job_id', 'text')
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('metrics', 'jsonb')
      .addColumn('stats', 'jsonb')
      .addColumn('timings', 'jsonb')
      .addColumn('execution_provider', 'text')
      .addColumn('error', 'text')
      .addColumn('finished_at', 'timestamptz')
      .addPrimaryKeyConstraint('evaluation_samples_pk', ['evaluation_id', 'index'])
      .execute();
    await db.schema
      .createTable('promotion_gates')
      .addColumn('model', 'text', (c) => c.primaryKey())
      .addColumn('dataset', 'text', (c) => c.notNull())
      .addColumn('metric', 'text', (c) => c.notNull())
      .addColumn('margin', 'double precision', (c) => c.notNull())
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .execute();
  },
};
