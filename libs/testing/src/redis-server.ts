import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
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
  /** More `redis-server` arguments (a cluster node's). */
  args?: string[];
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
        ...(opts.args ?? []),
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

export interface RedisClusterHandle {
  /** `redis://127.0.0.1:<port>` of the first master: a seed (REDIS_URL with REDIS_CLUSTER=true). */
  url: string;
  /** The three masters, each with its own folder (AOF and nodes.conf). */
  masters: RedisServerHandle[];
  /** Resolves once every master reports `cluster_state:ok` (all slots served). */
  ready(timeoutMs?: number): Promise<void>;
  /** Resolves once every running master reports `cluster_state:fail` (one is missing past the node timeout). */
  down(timeoutMs?: number): Promise<void>;
  /** The master serving `slot`. */
  masterOf(slot: number): Promise<RedisServerHandle>;
  stop(): Promise<void>;
}

const run = promisify(execFile);

/** `CLUSTER INFO` of one node through redis-cli (nothing else to install). */
async function clusterInfo(port: number): Promise<string> {
  return (await run('redis-cli', ['-p', String(port), 'cluster', 'info'])).stdout;
}

/**
 * A real Redis Cluster of three masters (no replicas) on free loopback ports, made with
 * `redis-cli --cluster create`. Each master appends every write to its AOF and fsyncs it before
 * answering (`appendfsync always`), so a SIGKILLed master restarted from its folder (`restart({ kill: true })`:
 * same port, same nodes.conf) comes back with every write it acknowledged (ADR 0014 says what a
 * production `everysec` can lose).
 */
export async function startRedisCluster(): Promise<RedisClusterHandle> {
  const masters: RedisServerHandle[] = [];
  for (let i = 0; i < 3; i++) {
    // The cluster bus port is port + 10000 by default, which a free ephemeral port can overflow: pick one too.
    const busPort = await freePort();
    masters.push(
      await startRedisServer({
        appendonly: true,
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-port',
          String(busPort),
          '--cluster-node-timeout',
          '2000',
          '--appendfsync',
          'always',
        ],
      }),
    );
  }
  await run('redis-cli', ['--cluster', 'create', ...masters.map((m) => `127.0.0.1:${m.port}`), '--cluster-yes']);
  /** Until every master answering CLUSTER INFO (all of them with `all`) reports `state`. */
  const reach = async (state: 'ok' | 'fail', all: boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(masters.map((m) => clusterInfo(m.port).catch(() => '')));
      const answering = all ? states : states.filter((info) => info !== '');
      if (answering.length > 0 && answering.every((info) => info.includes(`cluster_state:${state}`))) return;
      if (Date.now() > deadline) throw new Error(`the cluster is not ${state} after ${timeoutMs} ms:\n${states.join('\n')}`);
      // Gossip has no event to wait on: ask again shortly.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const ready = (timeoutMs = 15_000) => reach('ok', true, timeoutMs);
  await ready();
  return {
    url: masters[0]!.url,
    masters,
    ready,
    down: (timeoutMs = 15_000) => reach('fail', false, timeoutMs),
    masterOf: async (slot) => {
      const { stdout } = await run('redis-cli', ['-p', String(masters[0]!.port), 'cluster', 'nodes']);
      const port = clusterSlotOwner(stdout, slot);
      const master = masters.find((m) => m.port === port);
      if (!master) throw new Error(`no master serves slot ${slot}:\n${stdout}`);
      return master;
    },
    stop: async () => void (await Promise.all(masters.map((m) => m.stop()))),
  };
}

/** The port of the master serving `slot`, from CLUSTER NODES (`<id> <ip:port@bus> <flags> … <slot ranges>`). */
function clusterSlotOwner(nodes: string, slot: number): number | undefined {
  for (const line of nodes.trim().split('\n')) {
    const fields = line.split(' ');
    const ranges = fields.slice(8).map((range) => range.split('-').map(Number));
    if (ranges.some(([from = -1, to = from]) => slot >= from && slot <= to)) return Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1]);
  }
  return undefined;
}
