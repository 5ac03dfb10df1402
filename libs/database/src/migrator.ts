import { Migrator, sql, type Migration } from 'kysely';
import type { Database } from './database';
import { MIGRATIONS } from './migrations';

/** The database cannot be brought to the schema this version of Fathom needs. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

/**
 * Brings the database to the latest schema: runs, in order and in one transaction, the migrations
 * it has not run yet, and returns their names. Safe to call from several processes at
 * once (Kysely takes a lock in its own table, so one runs them and the others wait and find
 * nothing to do). A database migrated by a newer Fathom (it ran a migration this version does
 * not know) is refused rather than used with a schema this code does not understand.
 */
export async function migrateToLatest(db: Database, migrations: Readonly<Record<string, Migration>> = MIGRATIONS): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve({ ...migrations }) },
    migrationTableName: 'fathom_migrations',
    migrationLockTableName: 'fathom_migrations_lock',
  });
  const known = new Set(Object.keys(migrations));
  const unknown = (await ranMigrations(db)).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new MigrationError(
      `the database was migrated by a newer version of Fathom (it ran ${unknown.join(', ')}, which this version does not know); run that version, or restore a backup taken before it`,
    );
  }
  // Kysely runs the pending migrations in one transaction: one that fails leaves none of them applied.
  let { error, results = [] } = await migrator.migrateToLatest();
  // On a database never migrated, processes starting together race to create Kysely's own tables
  // and lock row (it checks, then inserts); the losers' insert fails, and the next try finds them.
  for (let retry = 1; retry <= 3 && error && lostTheCreationRace(error, results); retry++) {
    await new Promise((resolve) => setTimeout(resolve, 50 * retry));
    ({ error, results = [] } = await migrator.migrateToLatest());
  }
  if (error) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName;
    const cause = error instanceof Error ? error : new Error(JSON.stringify(error));
    throw new MigrationError(`migration ${failed ?? '(none)'} failed: ${cause.message}`, { cause });
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** The names in the migration table, or none when the database was never migrated. */
async function ranMigrations(db: Database): Promise<string[]> {
  try {
    const { rows } = await sql<{ exists: boolean }>`SELECT to_regclass('fathom_migrations') IS NOT NULL AS exists`.execute(db);
    if (!rows[0]?.exists) return [];
    const names = await sql<{ name: string }>`SELECT name FROM fathom_migrations`.execute(db);
    return names.rows.map((row) => row.name);
  } catch (error) {
    throw new MigrationError(`could not read the database's migrations: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Kysely's tables or lock row created by another process at the same moment (no migration ran):
 * 23505 / 42P07. On the embedded server (PGlite, one session behind the socket) several clients'
 * extended-protocol messages can interleave, and one loses its unnamed prepared statement (26000):
 * no migration ran either, and the next try goes through.
 */
function lostTheCreationRace(error: unknown, results: ReadonlyArray<{ status: string }>): boolean {
  const code = (error as { code?: unknown }).code;
  return results.every((r) => r.status === 'NotExecuted') && (code === '23505' || code === '42P07' || code === '26000');
}
