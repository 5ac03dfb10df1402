import { sql, type Kysely, type Migration } from 'kysely';

/**
 * API keys: the id is the key's public part (it is in the key itself, `fth_<id>_<secret>`), the
 * secret is kept only as its SHA-256 digest (docs/adr/0010-api-keys.md). A revoked key keeps its
 * row, so the audit log and job records can still name it.
 */
export const apiKeysMigration: Migration = {
  up: async (db: Kysely<unknown>) => {
    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('name', 'text')
      .addColumn('scopes', sql`text[]`, (c) => c.notNull())
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('requests_per_second', 'integer')
      .addColumn('jobs_in_flight', 'integer')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('last_used_at', 'timestamptz')
      .addColumn('revoked_at', 'timestamptz')
      .addColumn('revoked_by', 'text')
      .execute();
    // Start-up asks "is there any active key?"; listings go by creation time.
    await db.schema.createIndex('api_keys_active').on('api_keys').column('created_at').where(sql.ref('revoked_at'), 'is', null).execute();
  },
};
