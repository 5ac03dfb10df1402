import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServerHandle {
  /** `redis://` (or `rediss://` with TLS), with `:password@` when the server requires one. */
  url: string;
  port: number;
  dir: string;
  /** The server's process id (changes on restart). */
  readonly pid: number;
  stop(): Promise<void>;
  /**
   * Stops and starts the server again on the same port and folder (persistence permitting);
   * `{ kill: true }` SIGKILLs it instead of a clean shutdown (what is in its AOF survives).
   */
  restart(opts?: { kill?: boolean }): Promise<void>;
  /** SIGKILLs the server and waits for it to exit; `start()` brings it back on the same port. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
}

export interface RedisServerOptions {
  appendonly?: boolean;
  dir?: string;
  /** `--requirepass`: clients must AUTH (the handle's url carries the password). */
  password?: string;
  /** Serve TLS only (`--tls-port`, no plain port), with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string; caFile: string };
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
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServerHandle> {
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
        ...(opts.tls
          ? [
              '--port',
              '0',
              '--tls-port',
              String(port),
              '--tls-cert-file',
              opts.tls.certFile,
              '--tls-key-file',
              opts.tls.keyFile,
              '--tls-ca-cert-file',
              opts.tls.caFile,
              '--tls-auth-clients',
              'no',
            ]
          : ['--port', String(port)]),
        ...(opts.password ? ['--requirepass', opts.password] : []),
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

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT'); // a paused server would never act on SIGTERM
    child.kill(signal);
    await exited;
  };

  await launch();
  const auth = opts.password ? `:${encodeURIComponent(opts.password)}@` : '';
  return {
    url: `${opts.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return child.pid ?? -1;
    },
    stop: () => stop(),
    restart: async ({ kill = false } = {}) => (await stop(kill ? 'SIGKILL' : 'SIGTERM'), await launch()),
    kill: () => stop('SIGKILL'),
    start: launch,
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
  };
}

/** A self-signed certificate for 127.0.0.1 (openssl), for a TLS redis-server; the CA is the certificate itself. */
export function selfSignedCertificate(dir = mkdtempSync(join(tmpdir(), 'fathom-tls-'))): {
  certFile: string;
  keyFile: string;
  caFile: string;
} {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr}`);
  return { certFile, keyFile, caFile: certFile };
}
