import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Spawned } from './supervised-process';

const root = join(__dirname, '..', '..', '..');

/**
 * Spawns the embedded PostgreSQL (libs/database's embedded-postgres.main.js) on `port` with its
 * files in `dir`, and resolves its pid once it serves. It stops when the launcher's IPC channel
 * closes, so it cannot outlive the launcher. Its own output is kept, not printed: it is returned in
 * the error when it fails to start.
 */
export function spawnEmbeddedDatabase(port: number, dir: string): Spawned {
  const child = spawn(process.execPath, [join(root, 'dist/libs/database/src/embedded-postgres.main.js')], {
    env: { ...process.env, EMBEDDED_POSTGRES_DIR: dir, EMBEDDED_POSTGRES_PORT: String(port), EMBEDDED_POSTGRES_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true, // its own process group: Ctrl-C reaches the launcher, which stops it last
  });
  let log = '';
  const onOutput = (data: Buffer) => (log = (log + data.toString()).slice(-20_000));
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  const pid = new Promise<number>((resolve, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      reject(new Error(`the embedded database stopped before it was ready (${signal ?? `exit code ${code}`}):\n${log}`));
    child.once('exit', onExit);
    child.once('message', () => {
      child.off('exit', onExit);
      resolve(child.pid!);
    });
  });
  pid.catch(() => undefined); // the supervisor reads the exit; this only stops an unhandled rejection
  return { child, pid };
}
