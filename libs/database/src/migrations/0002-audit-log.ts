import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Who changed what: key created or revoked, rollout changes. The actor is a key id, or
 * `cli:<user>` for the keys CLI (which talks to the database directly).
 */
export const auditLogMigration: Migration = {
  up: async (db: Kysely<unknown>) => {
    await db.schema
      .createTable('audit_log')
      .addColumn('id', 'bigserial', (c) => c.primaryKey())
      .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target_type', 'text', (c) => c.notNull())
      .addColumn('target_id', 'text', (c) => c.notNull())
      .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
      .addColumn('trace_id', 'text')
      .execute();
  },
};
