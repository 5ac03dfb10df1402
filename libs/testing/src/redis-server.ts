import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServerHandle {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
  /** Stops and starts the server again on the same port and folder (persistence permitting). */
  restart(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** What redis-server logs once it serves clients (after loading its append-only file, if any). */
const READY = /ready to accept connections/i;

/** Resolves when redis-server logs that it is ready: an event, so no polling of its port. */
function waitForReady(port: number, child: ChildProcess, output: () => string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = () => {
      if (READY.test(output())) finish();
    };
    const onExit = (code: number | null) => finish(new Error(`redis-server exited with code ${code}:\n${output()}`));
    const timer = setTimeout(
      () => finish(new Error(`redis-server did not report ready on port ${port} within ${timeoutMs} ms:\n${output()}`)),
      timeoutMs,
    );
    const finish = (error?: Error) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    };
    // Registered after the listener that appends to the log, so output() already holds this chunk.
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/**
 * A real, private redis-server on a free port with its own folder: tests (and `npm start`) never
 * touch a Redis someone else uses, and can restart it or turn on persistence.
 */
export async function startRedisServer(opts: { appendonly?: boolean; dir?: string } = {}): Promise<RedisServerHandle> {
  if (spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('redis-server is not on the PATH (Debian/Ubuntu: apt-get install redis-server).');
  }
  const port = await freePort();
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'fathom-redis-'));
  let child: ChildProcess;
  let log = '';

  const launch = async () => {
    log = '';
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        opts.appendonly ? 'yes' : 'no',
        '--dir',
        dir,
        '--daemonize',
        'no',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    await waitForReady(port, child, () => log);
  };

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };

  await launch();
  return { url: `redis://127.0.0.1:${port}`, port, dir, stop, restart: async () => (await stop(), await launch()) };
}
