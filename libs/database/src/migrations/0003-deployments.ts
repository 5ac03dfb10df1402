import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Deployments: model versions registered at runtime or found in workers' MODELS_DIR (ADR 0015).
 * One name@version holds at most one live row (a partial unique index): a failed or retired one
 * may be registered again, and keeps its row for the history. The audit log gains the address a
 * change came from.
 */
export const deploymentsMigration: Migration = {
  up: async (db: Kysely<unknown>) => {
    await db.schema
      .createTable('deployments')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('task', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('source', 'text', (c) => c.notNull())
      // The manifest as registered (labels inlined, weights as `{ store: <sha256> }`).
      .addColumn('manifest', 'jsonb', (c) => c.notNull())
      // '' (the base version) and each variant → { sha256, bytes, url? }.
      .addColumn('weights', 'jsonb', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('defaults', 'jsonb')
      .addColumn('batching', 'jsonb')
      .addColumn('selector', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
      .addColumn('replicas', 'integer')
      .addColumn('revision', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('retired_at', 'timestamptz')
      .execute();
    await db.schema
      .createIndex('deployments_live_version')
      .unique()
      .on('deployments')
      .columns(['name', 'version'])
      .where(sql.ref('state'), 'not in', sql`('failed', 'retired')`)
      .execute();
    await db.schema.createIndex('deployments_by_name').on('deployments').columns(['name', 'created_at']).execute();
    await db.schema.alterTable('audit_log').addColumn('address', 'text').execute();
  },
};
