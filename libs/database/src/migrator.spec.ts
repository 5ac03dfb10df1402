import { sql, type Kysely, type Migration } from 'kysely';
import { DATABASE_ENGINES, type TestDatabase } from '@fathom/testing';
import { createDatabase, type Database } from './database';
import { MIGRATIONS } from './migrations';
import type { DatabaseSchema } from './schema';
import { MigrationError, migrateToLatest } from './migrator';

const settings = (url: string) => ({
  url,
  poolSize: 4,
  statementTimeoutMs: 5_000,
  connectTimeoutMs: 5_000,
  applicationName: 'fathom-test',
});

const notes: Migration = {
  up: async (db: Kysely<unknown>) => {
    await db.schema
      .createTable('notes')
      .addColumn('id', 'serial', (c) => c.primaryKey())
      .addColumn('text', 'text')
      .execute();
  },
};
const tags: Migration = {
  up: async (db: Kysely<unknown>) => {
    await db.schema.alterTable('notes').addColumn('tag', 'text').execute();
  },
};

describe.each(DATABASE_ENGINES)('database migrations, on %s', (_engine, createDatabaseForTest) => {
  let database: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    database = await createDatabaseForTest();
  });
  afterAll(() => database.drop());
  beforeEach(async () => {
    await database.reset();
    db = createDatabase(settings(database.url));
  });
  afterEach(() => db.destroy());

  it('runs the migrations a database has not run yet, once, in order', async () => {
    expect(await migrateToLatest(db, { '0001_notes': notes })).toEqual(['0001_notes']);
    expect(await migrateToLatest(db, { '0001_notes': notes, '0002_tags': tags })).toEqual(['0002_tags']);
    expect(await migrateToLatest(db, { '0001_notes': notes, '0002_tags': tags })).toEqual([]);
    await sql`INSERT INTO notes (text, tag) VALUES ('a', 'b')`.execute(db);
  });

  it('lets several processes migrate at once: one runs each migration, the others find it done', async () => {
    const others = [createDatabase(settings(database.url)), createDatabase(settings(database.url))];
    try {
      const runs = await Promise.all([db, ...others].map((each) => migrateToLatest(each, { '0001_notes': notes, '0002_tags': tags })));
      expect(runs.flat().sort()).toEqual(['0001_notes', '0002_tags']);
    } finally {
      await Promise.all(others.map((other) => other.destroy()));
    }
  });

  it('refuses a database a newer version migrated, naming the migration it does not know', async () => {
    await migrateToLatest(db, { '0001_notes': notes, '0002_tags': tags });
    await expect(migrateToLatest(db, { '0001_notes': notes })).rejects.toThrow(
      new MigrationError(
        'the database was migrated by a newer version of Fathom (it ran 0002_tags, which this version does not know); run that version, or restore a backup taken before it',
      ),
    );
  });

  it('says which migration failed, and leaves the database as it was before that run', async () => {
    const broken: Migration = { up: (d: Kysely<unknown>) => sql`CREATE TABLE notes (oops)`.execute(d).then(() => undefined) };
    await expect(migrateToLatest(db, { '0001_notes': notes, '0002_broken': broken })).rejects.toThrow(/^migration 0002_broken failed: /);
    // The run was one transaction: 0001 was not kept either, and runs again once 0002 is fixed.
    expect(await migrateToLatest(db, { '0001_notes': notes, '0002_tags': tags })).toEqual(['0001_notes', '0002_tags']);
  });

  it("brings an empty database to this version's schema", async () => {
    expect(await migrateToLatest(db)).toEqual(Object.keys(MIGRATIONS));
    // Every table schema.ts declares exists.
    const tables: Array<keyof DatabaseSchema> = ['api_keys', 'audit_log'];
    for (const table of tables) {
      const { rows } = await sql<{ exists: boolean }>`SELECT to_regclass(${table}) IS NOT NULL AS exists`.execute(db);
      expect([table, rows[0]?.exists]).toEqual([table, true]);
    }
  });
});
