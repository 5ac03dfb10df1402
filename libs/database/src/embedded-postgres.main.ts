/**
 * `node embedded-postgres.main.js`: the embedded PostgreSQL as a process of its own (PGlite runs
 * its queries on the thread that calls it, so it gets one). `npm start` runs it when DATABASE_URL is
 * unset, and the tests run it to test against it. Reads EMBEDDED_POSTGRES_DIR, EMBEDDED_POSTGRES_PORT
 * (0: any free port) and EMBEDDED_POSTGRES_HOST; prints one JSON line with the URL once it
 * serves (and sends `{url}` over IPC when spawned with a channel). SIGTERM or SIGINT closes it
 * cleanly (its files are then consistent); with a channel, it also stops when the channel closes.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedPostgres } from './embedded-postgres';

/**
 * One process per data folder: PGlite does not lock its files, and two engines writing the same
 * folder corrupt it. A lock left by a process that died is taken over.
 */
function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'fathom-embedded.pid');
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' });
  } catch {
    const holder = Number(readFileSync(lock, 'utf8'));
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new Error(
        `another process (pid ${holder}) serves the database in ${dir}; stop it, or give this one another folder (START_DATABASE_DIR)`,
      );
    }
    writeFileSync(lock, String(process.pid));
  }
  return () => rmSync(lock, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function main(): Promise<void> {
  const dataDir = process.env.EMBEDDED_POSTGRES_DIR;
  if (!dataDir) throw new Error('EMBEDDED_POSTGRES_DIR must name the folder that holds the database');
  const port = Number(process.env.EMBEDDED_POSTGRES_PORT ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error('EMBEDDED_POSTGRES_PORT must be a port number (0: any)');
  const unlock = lockDataDir(dataDir);
  const server = await startEmbeddedPostgres({ dataDir, port, host: process.env.EMBEDDED_POSTGRES_HOST ?? '127.0.0.1' }).catch(
    (error: Error) => {
      unlock();
      throw error;
    },
  );
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= server
      .stop()
      .finally(unlock)
      .then(
        () => process.exit(0),
        (error: Error) => {
          console.error(`embedded postgres: ${error.message}`);
          process.exit(1);
        },
      );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, stop);
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', stop);
  }
  console.log(JSON.stringify({ service: 'fathom-database', msg: 'embedded postgres ready', url: server.url, dataDir }));
  process.send?.({ url: server.url });
}

main().catch((error: Error) => {
  console.error(`embedded postgres: ${error.message}`);
  process.exit(1);
});
