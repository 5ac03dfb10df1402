import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgresOptions {
  /** Where the database's files live (created if missing); it survives restarts there. */
  dataDir: string;
  host?: string;
  /** 0: any free port. */
  port: number;
  /** Client connections served at once (their statements run one at a time). */
  maxConnections?: number;
}

export interface EmbeddedPostgres {
  /** postgres://postgres@host:port/postgres */
  url: string;
  stop(): Promise<void>;
}

/**
 * PostgreSQL compiled to WebAssembly (PGlite) served over the wire protocol, so the API, workers
 * and CLI reach it with the same driver and SQL as a real server: what `npm start` runs when
 * DATABASE_URL is unset. One engine, statements one at a time (a transaction holds it until it
 * ends): for one machine, not for production (docs/adr/0009).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  mkdirSync(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir);
  const server = new PGLiteSocketServer({
    db,
    host: options.host ?? '127.0.0.1',
    port: options.port,
    maxConnections: options.maxConnections ?? 64,
  });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    throw error;
  }
  return {
    url: `postgres://postgres@${server.getServerConn()}/postgres`,
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
}
