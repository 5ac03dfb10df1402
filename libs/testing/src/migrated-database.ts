import { createDatabase, migrateToLatest, type Database, type DatabaseSettings } from '@fathom/database';
import type { TestDatabase } from './test-database';

/** Connection settings for a store's spec: a small pool, short timeouts; `overrides` for a spec that needs others. */
export function testDatabaseSettings(url: string, overrides: Partial<DatabaseSettings> = {}): DatabaseSettings {
  return { url, poolSize: 8, statementTimeoutMs: 5_000, connectTimeoutMs: 5_000, applicationName: 'fathom-test', ...overrides };
}

/**
 * The set-up every store spec shares: a database from `create` for the describe block, emptied and
 * migrated to the latest schema before each test, its pool closed after. Call it inside the describe;
 * read `db` (and `database`, the server) from a beforeEach registered after it.
 */
export function migratedDatabasePerTest(create: () => Promise<TestDatabase>): { readonly db: Database; readonly database: TestDatabase } {
  let database: TestDatabase | undefined;
  let db: Database | undefined;
  beforeAll(async () => {
    database = await create();
  });
  afterAll(() => database?.drop());
  beforeEach(async () => {
    await database!.reset();
    db = createDatabase(testDatabaseSettings(database!.url));
    await migrateToLatest(db);
  });
  afterEach(() => db?.destroy());
  return {
    get db() {
      return db!;
    },
    get database() {
      return database!;
    },
  };
}
