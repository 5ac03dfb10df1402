import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { repoRoot } from './fixtures';
import { spawnNodeProcess } from './processes';

/** The PostgreSQL server tests create their databases on (127.0.0.1:5432 on these machines; `.ci/run` starts it). */
export function testDatabaseServerUrl(): string {
  return process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

export interface TestDatabase {
  /** A database of its own, empty (not migrated). */
  url: string;
  /** Empties it again (drops every table, the migrations' too), for the next test on the same database. */
  reset(): Promise<void>;
  /** Drops it, closing any connection still open to it. */
  drop(): Promise<void>;
  /** The embedded server only (a process of the test's own): SIGSTOP, an outage in which every query hangs until its timeout. */
  pause?(): void;
  resume?(): void;
}

async function onServer<T>(work: (client: Client) => Promise<T>, url = testDatabaseServerUrl()): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `the tests need PostgreSQL at ${url} (set TEST_DATABASE_URL to use another; .ci/run installs and starts one): ${(error as Error).message}`,
      { cause: error },
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh database on the real PostgreSQL server, for one test file or stack. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `fathom_test_${randomBytes(6).toString('hex')}`;
  await onServer((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(testDatabaseServerUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    reset: () => emptied(url.toString()),
    drop: () => onServer((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** A fresh embedded PostgreSQL (PGlite over the wire protocol, the process `npm start` runs) in a folder of its own. */
export async function startEmbeddedTestDatabase(): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fathom-pglite-'));
  const server = spawnNodeProcess(join(repoRoot(), 'dist/libs/database/src/embedded-postgres.main.js'), {
    EMBEDDED_POSTGRES_DIR: dataDir,
    EMBEDDED_POSTGRES_PORT: '0',
  });
  const { url } = JSON.parse(await server.waitForLine(/"msg":"embedded postgres ready"/, 60_000)) as { url: string };
  return {
    url,
    reset: () => emptied(url),
    pause: () => server.kill('SIGSTOP'),
    resume: () => server.kill('SIGCONT'),
    drop: async () => {
      server.kill('SIGCONT');
      server.kill('SIGTERM');
      await server.waitForExit(10_000);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The two engines Fathom runs on, for tests that must hold on both. */
export const DATABASE_ENGINES: ReadonlyArray<[string, () => Promise<TestDatabase>]> = [
  ['PostgreSQL', createTestDatabase],
  ['embedded PostgreSQL (PGlite)', startEmbeddedTestDatabase],
];

async function emptied(url: string): Promise<void> {
  await onServer((client) => client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public'), url);
}
