import type { Kysely, Migration } from 'kysely';

/**
 * The prediction log (issue 15): one row per finished job — completed, failed or cancelled — with
 * its input and output features for drift, and the owner's feedback. Evaluation jobs are logged
 * too, marked by `evaluation_id`, so drift and exports can leave them out.
 */
export const predictionsMigration: Migration = {
  up: async (db: Kysely<unknown>) => {
    await db.schema
      .createTable('predictions')
      // The queue's job id: a retried write of the same job is the same row.
      .addColumn('job_id', 'text', (c) => c.primaryKey())
      .addColumn('finished_at', 'timestamptz', (c) => c.notNull())
      .addColumn('submitted_at', 'timestamptz')
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('variant', 'text')
      .addColumn('route', 'text', (c) => c.notNull())
      .addColumn('task', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('error_code', 'text')
      .addColumn('timings', 'jsonb')
      .addColumn('execution_provider', 'text')
      .addColumn('trace_id', 'text')
      .addColumn('input_features', 'jsonb')
      .addColumn('output_features', 'jsonb')
      .addColumn('evaluation_id', 'text')
      .addColumn('feedback_rating', 'text')
      .addColumn('feedback_comment', 'text')
      .addColumn('feedback_correction', 'jsonb')
      .addColumn('feedback_at', 'timestamptz')
      .addColumn('feedback_by', 'text')
      .execute();
    // Export and drift windows per model version; retention; paging the whole log; a key's own jobs.
    await db.schema.createIndex('predictions_by_model').on('predictions').columns(['model', 'version', 'finished_at']).execute();
    await db.schema.createIndex('predictions_by_time').on('predictions').columns(['finished_at']).execute();
    await db.schema.createIndex('predictions_by_key').on('predictions').columns(['key_id', 'finished_at']).execute();
  },
};
