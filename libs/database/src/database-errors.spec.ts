import { sql } from 'kysely';
import { ErrorCode, FathomError } from '@fathom/contracts';
import { createTestDatabase, freePort, type TestDatabase } from '@fathom/testing';
import { createDatabase } from './database';
import { DATABASE_RETRY_AFTER_SECONDS, withDatabase } from './database-errors';

const settings = (url: string, statementTimeoutMs = 5_000) => ({
  url,
  poolSize: 2,
  statementTimeoutMs,
  connectTimeoutMs: 1_000,
  applicationName: 'fathom-test',
});

describe('a database that cannot answer is 503 store_unavailable, never a 500 or a hang', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it('a server nobody listens for: store_unavailable with Retry-After', async () => {
    const db = createDatabase(settings(`postgres://postgres@127.0.0.1:${await freePort()}/postgres`));
    try {
      const error = await withDatabase(() => sql`SELECT 1`.execute(db)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FathomError);
      expect(error).toMatchObject({ code: ErrorCode.StoreUnavailable, retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS });
    } finally {
      await db.destroy();
    }
  });

  it('a statement past DATABASE_STATEMENT_TIMEOUT_MS: store_unavailable', async () => {
    const db = createDatabase(settings(database.url, 200));
    try {
      await expect(withDatabase(() => sql`SELECT pg_sleep(5)`.execute(db))).rejects.toMatchObject({ code: ErrorCode.StoreUnavailable });
    } finally {
      await db.destroy();
    }
  });

  it('a wrong statement is not an outage: its own error passes through', async () => {
    const db = createDatabase(settings(database.url));
    try {
      const error = await withDatabase(() => sql`SELECT * FROM no_such_table`.execute(db)).catch((e: unknown) => e);
      expect(error).not.toBeInstanceOf(FathomError);
      expect((error as Error).message).toMatch(/no_such_table/);
    } finally {
      await db.destroy();
    }
  });
});
