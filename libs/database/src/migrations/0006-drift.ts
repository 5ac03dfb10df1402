import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Drift (issue 15): why each logged job ran (`purpose`: production, evaluation or reference — drift
 * compares production only), and the reference profile each model version is compared with.
 */
export const driftMigration: Migration = {
  up: async (db: Kysely<unknown>) => {
    await db.schema
      .alterTable('predictions')
      .addColumn('purpose', 'text', (c) => c.notNull().defaultTo('production'))
      .execute();
    await sql`UPDATE predictions SET purpose = 'evaluation' WHERE evaluation_id IS NOT NULL`.execute(db);
    // Drift's window: a version's latest production rows.
    await db.schema
      .createIndex('predictions_by_purpose')
      .on('predictions')
      .columns(['model', 'version', 'purpose', 'finished_at'])
      .execute();
    await db.schema
      .createIndex('predictions_by_evaluation')
      .on('predictions')
      .column('evaluation_id')
      .where(sql.ref('evaluation_id'), 'is not', null)
      .execute();
    await db.schema
      .createTable('drift_references')
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      // Where the profile came from: {evaluation}, {jobs} (a folder profiled through the queue) or {from, to} of the log.
      .addColumn('source', 'jsonb', (c) => c.notNull())
      .addColumn('profile', 'jsonb', (c) => c.notNull())
      .addColumn('rows', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('drift_references_pk', ['model', 'version'])
      .execute();
  },
};
