import { Kysely, PostgresDialect } from 'kysely';
import { Pool } from 'pg';
import type { DatabaseSchema } from './schema';

export type Database = Kysely<DatabaseSchema>;

export interface DatabaseSettings {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Connections this process keeps at most. */
  poolSize: number;
  /** How long one statement may run (and wait for a connection from the pool) before it fails. */
  statementTimeoutMs: number;
  /** How long opening a connection may take. */
  connectTimeoutMs: number;
  /** Names the connections in pg_stat_activity (fathom-api, fathom-worker, fathom-keys). */
  applicationName: string;
}

/**
 * A connection pool to Fathom's PostgreSQL (or the embedded one `npm start` serves over the wire
 * protocol). Every statement is bounded: a database that stops answering fails requests with a
 * timeout, never a hang. `onIdleError` hears of connections that broke (a restarted server),
 * which pg would otherwise throw as an uncaught 'error' event.
 */
export function createDatabase(settings: DatabaseSettings, onIdleError: (error: Error) => void = () => undefined): Database {
  const pool = new Pool({
    connectionString: settings.url,
    max: settings.poolSize,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    // Server-side bound, and a client-side one for a server that no longer answers at all.
    statement_timeout: settings.statementTimeoutMs,
    query_timeout: settings.statementTimeoutMs + 1_000,
    application_name: settings.applicationName,
  });
  pool.on('error', onIdleError);
  // A connection checked out when the server goes (between two statements of a transaction, say)
  // emits 'error' on the client, where the pool's idle listener is not attached: without this
  // listener that is an uncaught exception and the API exits (seen with the embedded database
  // SIGKILLed under the deployments reconciler). The statement in flight fails on its own.
  pool.on('connect', (client) => client.on('error', onIdleError));
  return new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });
}
