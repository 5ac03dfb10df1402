import { spawn } from 'node:child_process';
import type { Spawned } from './supervised-process';

/** What redis-server logs once it serves clients (after loading its append-only file). */
const READY = /ready to accept connections/i;

/**
 * The arguments of `npm start`'s private redis-server: loopback only, never evicting (queues and
 * job state live there), and an append-only file in `dir`, so a redis-server restarted after a
 * crash comes back with the queued jobs and statuses. Redis writes the file before it answers,
 * except while a slow fsync is still running (it then postpones the write up to 2 s): fsync once a
 * second bounds what a crash loses to the last second or two.
 */
export function privateRedisArgs(port: number, dir: string): string[] {
  return [
    ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
    ...['--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'],
    ...['--daemonize', 'no', '--maxmemory-policy', 'noeviction'],
  ];
}

/**
 * Spawns redis-server under the child guard (so it cannot outlive the launcher) and resolves its
 * pid once it is ready to accept connections. Its own log is kept, not printed: it is returned in
 * the error when it fails to start.
 */
export function spawnPrivateRedis(guardScript: string, port: number, dir: string): Spawned {
  const child = spawn(process.execPath, [guardScript, 'redis-server', ...privateRedisArgs(port, dir)], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true, // its own process group: Ctrl-C reaches the launcher, which stops redis last
  });
  let log = '';
  let programPid: number | undefined;
  let settle: (() => void) | undefined;
  // Read for as long as it runs (a full pipe would block redis-server); only the tail is kept.
  const onOutput = (data: Buffer) => {
    log = (log + data.toString()).slice(-20_000);
    settle?.();
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  const pid = new Promise<number>((resolve, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      reject(new Error(`redis-server stopped before it was ready (${signal ?? `exit code ${code}`}):\n${log}`));
    settle = () => {
      if (programPid === undefined || !READY.test(log)) return;
      settle = undefined;
      child.off('exit', onExit);
      resolve(programPid);
    };
    child.on('message', (message: { pid?: number }) => {
      programPid = message.pid;
      settle?.();
    });
    child.once('exit', onExit);
  });
  pid.catch(() => undefined); // the supervisor reads the exit; this only stops an unhandled rejection
  return { child, pid };
}
