import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import sharp from 'sharp';
import { io } from 'socket.io-client';
import { JOBS_NAMESPACE } from '@fathom/contracts';
import {
  buildDepthStandInModel,
  childPids,
  freePort,
  isRunning,
  repoRoot,
  spawnNodeProcess,
  waitUntilGone,
  type NodeProcess,
} from '@fathom/testing';
import { documentedMetrics, expectServedAsDocumented, parseExposition } from './support/prometheus-exposition';

/** Short enough for a test, long enough for the API and the worker to close cleanly on a loaded machine. */
const GRACE_MS = 5_000;
const RESTART_DELAY_MS = 300;

interface LauncherLine {
  msg: string;
  process?: string;
  pid?: number;
  code?: number | null;
  signal?: string | null;
  attempt?: number;
  delayMs?: number;
}

/** The launcher's own structured lines (service fathom-start), in order. */
function launcherLines(output: string): LauncherLine[] {
  return output
    .split('\n')
    .filter((line) => line.includes('"service":"fathom-start"'))
    .map((line) => JSON.parse(line) as LauncherLine);
}

/** The pid the launcher last logged for a process it started. */
function startedPid(launcher: NodeProcess, name: string): number {
  const started = launcherLines(launcher.output()).filter((l) => l.msg === 'process started' && l.process === name);
  const pid = started.at(-1)?.pid;
  if (pid === undefined) throw new Error(`the launcher logged no start of ${name}:\n${launcher.output()}`);
  return pid;
}

async function greyPng(): Promise<Blob> {
  const png = await sharp({ create: { width: 32, height: 16, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  return new Blob([new Uint8Array(png)]);
}

/** A folder with a tiny depth model whose weights are on disk: nothing to download. */
function modelsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-start-models-'));
  writeFileSync(join(dir, 'tiny.onnx'), buildDepthStandInModel());
  writeFileSync(
    join(dir, 'tiny.model.yaml'),
    'name: tiny-depth\nversion: 1.0.0\ntask: depth\nweights: tiny.onnx\ninput: { resize: { mode: fixed, width: 28, height: 28 } }\n',
  );
  return dir;
}

/** What `npm start` is given here: a private redis-server, an embedded database, the tiny model, free ports, short delays. */
async function launcherEnv(): Promise<Record<string, string>> {
  const dir = modelsDir();
  return {
    REDIS_URL: '',
    DATABASE_URL: '',
    START_DATABASE_DIR: join(dir, 'database'),
    STORAGE_DIR: join(dir, 'blobs'),
    PORT: String(await freePort()),
    MODELS_DIR: dir,
    MODELS_CACHE_DIR: join(dir, 'cache'),
    WORKER_BUILTIN_MODELS: 'false',
    MODELS_PULL_ON_START: 'false',
    WORKER_METRICS_PORT: '0',
    WORKER_HEARTBEAT_MS: '500',
    START_METRICS_PORT: '0',
    API_METRICS_PORT: '0',
    START_STOP_GRACE_MS: String(GRACE_MS),
    START_RESTART_DELAY_MS: String(RESTART_DELAY_MS),
    LOG_LEVEL: 'info',
  };
}

/** The pids of everything the launcher runs: its children (redis-server's guard among them) and redis-server itself. */
function familyPids(launcher: NodeProcess): number[] {
  const pids = [...childPids(launcher.child.pid!), startedPid(launcher, 'redis-server')];
  expect(pids).toEqual(expect.arrayContaining([startedPid(launcher, 'api'), startedPid(launcher, 'worker')]));
  return pids;
}

async function infer(port: number): Promise<Response> {
  const body = new FormData();
  body.append('model', 'tiny-depth');
  body.append('image', await greyPng(), 'grey.png');
  return fetch(`http://127.0.0.1:${port}/v1/infer`, { method: 'POST', body });
}

const failWithOutput = (launcher: NodeProcess, error: unknown) =>
  new Error(`${(error as Error).message}\n--- npm start printed:\n${launcher.output()}`, { cause: error });

describe('npm start keeps its children running, and none outlives it', () => {
  let env: Record<string, string>;
  let launcher: NodeProcess;
  let metricsUrl: string;

  beforeAll(async () => {
    env = await launcherEnv();
    launcher = spawnNodeProcess(join(repoRoot(), 'dist/tools/start/start.js'), env);
    try {
      await launcher.waitForLine(/Fathom is running\./, 60_000);
      const line = await launcher.waitForLine(/Restarts: +http:\/\/\S+\/metrics/, 5_000);
      metricsUrl = /(http:\/\/\S+\/metrics)/.exec(line)![1]!;
    } catch (error) {
      throw failWithOutput(launcher, error);
    }
  });
  afterAll(async () => {
    if (launcher.child.exitCode === null && launcher.child.signalCode === null) {
      launcher.kill('SIGTERM');
      await launcher.waitForExit(3 * GRACE_MS);
    }
  });

  it('restarts a SIGKILLed worker, logs and counts it, and the API stays up throughout', async () => {
    const port = Number(env.PORT);
    const api = startedPid(launcher, 'api');
    const worker = startedPid(launcher, 'worker');
    // A socket client connected across the whole episode: the API staying up means it never drops.
    const socket = io(`http://127.0.0.1:${port}${JOBS_NAMESPACE}`, { transports: ['websocket'], forceNew: true });
    const drops: string[] = [];
    socket.on('disconnect', (reason) => drops.push(reason));
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    try {
      process.kill(worker, 'SIGKILL');
      const restart = JSON.parse(await launcher.waitForLine(/"msg":"the worker stopped \(SIGKILL\); restarting"/, 10_000)) as LauncherLine;
      expect(restart).toMatchObject({
        process: 'worker',
        pid: worker,
        code: null,
        signal: 'SIGKILL',
        attempt: 1,
        delayMs: RESTART_DELAY_MS,
      });
      await launcher.waitForLine(/"msg":"process started","process":"worker".*"attempt":1/, 10_000);
      const newWorker = startedPid(launcher, 'worker');
      expect(newWorker).not.toBe(worker);
      await launcher.waitForLine(new RegExp(`-${newWorker}".*"msg":"worker ready"`), 30_000);

      const response = await infer(port);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/png');

      const scrape = parseExposition(await (await fetch(metricsUrl)).text());
      const restarts = Object.fromEntries(
        scrape.samples.filter((s) => s.name === 'fathom_launcher_restarts_total').map((s) => [s.labels.process, s.value]),
      );
      expect(restarts).toEqual({ api: 0, worker: 1, 'redis-server': 0, database: 0 });
      expect(startedPid(launcher, 'api')).toBe(api);
      expect(isRunning(api)).toBe(true);
      expect(drops).toEqual([]);
    } catch (error) {
      throw failWithOutput(launcher, error);
    } finally {
      socket.disconnect();
    }
  });

  it('serves its restart count as docs/metrics.md lists it', async () => {
    expect(documentedMetrics('Launcher').size).toBe(1);
    expectServedAsDocumented(parseExposition(await (await fetch(metricsUrl)).text()), 'Launcher');
  });

  it('brings a SIGKILLed redis-server back on the same port with its data (append-only file)', async () => {
    const port = Number(env.PORT);
    // POST /v1/infer answers once the job has ended: what comes back is what was written before the kill.
    const done = await infer(port);
    expect(done.status).toBe(200);
    const id = done.headers.get('x-fathom-job-id')!;
    const status = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/v1/jobs/${id}`);
      return {
        body: (await response.json()) as { state: string },
        retryAfter: response.status === 503 ? response.headers.get('retry-after') : null,
      };
    };
    const retryingOnStoreUnavailable = async (read: typeof status) => {
      for (let attempt = 1; ; attempt++) {
        const { body, retryAfter } = await read();
        if (retryAfter === null || attempt === 10) return body;
        await new Promise((resolve) => setTimeout(resolve, Number(retryAfter) * 1000));
      }
    };
    expect((await status()).body).toMatchObject({ state: 'completed' });
    const redis = startedPid(launcher, 'redis-server');
    try {
      process.kill(redis, 'SIGKILL');
      await launcher.waitForLine(/"msg":"the redis-server stopped \(SIGKILL\); restarting"/, 10_000);
      await launcher.waitForLine(/"msg":"process started","process":"redis-server".*"attempt":1/, 10_000);
      expect(startedPid(launcher, 'redis-server')).not.toBe(redis);
      // The API reconnects to the same address and reads the job the restarted server loaded from its file.
      // Until it has seen Redis answer again it says 503 store_unavailable with Retry-After, and a
      // client retries after that long, as the README says: this one does so, a bounded number of times.
      expect(await retryingOnStoreUnavailable(status)).toMatchObject({ state: 'completed' });
      const after = await infer(port);
      expect(after.status).toBe(200);
    } catch (error) {
      throw failWithOutput(launcher, error);
    }
  });

  it('brings a SIGKILLed embedded database back on the same port with what it had committed', async () => {
    const url = /started an embedded PostgreSQL at (\S+) /.exec(launcher.output())?.[1];
    expect(url).toBeDefined();
    const query = async (text: string) => {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query<{ note: string }>(text)).rows;
      } finally {
        await client.end();
      }
    };
    await query("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('before the kill')");
    const database = startedPid(launcher, 'database');
    try {
      process.kill(database, 'SIGKILL');
      await launcher.waitForLine(/"msg":"the database stopped \(SIGKILL\); restarting"/, 10_000);
      await launcher.waitForLine(/"msg":"process started","process":"database".*"attempt":1/, 60_000);
      expect(await query('SELECT note FROM kept')).toEqual([{ note: 'before the kill' }]);
      // The API's pool drops the broken connections and opens new ones: ready again.
      const ready = await fetch(`http://127.0.0.1:${env.PORT}/readyz`);
      expect(ready.status).toBe(200);
    } catch (error) {
      throw failWithOutput(launcher, error);
    }
  });

  it('restarts a SIGKILLed API on the same port: a socket client reconnects, requests are served again', async () => {
    const port = Number(env.PORT);
    const api = startedPid(launcher, 'api');
    const socket = io(`http://127.0.0.1:${port}${JOBS_NAMESPACE}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnectionDelayMax: 500,
    });
    try {
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      const dropped = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()));
      process.kill(api, 'SIGKILL');
      await dropped;
      const back = new Promise<void>((resolve) => socket.once('connect', resolve));
      const restart = JSON.parse(await launcher.waitForLine(/"msg":"the api stopped \(SIGKILL\); restarting"/, 10_000)) as LauncherLine;
      expect(restart).toMatchObject({ process: 'api', pid: api, signal: 'SIGKILL', attempt: 1, delayMs: RESTART_DELAY_MS });
      await back;
      expect(startedPid(launcher, 'api')).not.toBe(api);
      expect((await infer(port)).status).toBe(200);
      const scrape = parseExposition(await (await fetch(metricsUrl)).text());
      expect(scrape.samples.find((s) => s.name === 'fathom_launcher_restarts_total' && s.labels.process === 'api')?.value).toBe(1);
    } catch (error) {
      throw failWithOutput(launcher, error);
    } finally {
      socket.disconnect();
    }
  });

  it('SIGKILLed itself, leaves no child behind: each ends by itself at START_STOP_GRACE_MS at the latest', async () => {
    const pids = familyPids(launcher);
    expect(pids.every(isRunning)).toBe(true);
    launcher.kill('SIGKILL');
    await launcher.waitForExit(GRACE_MS);
    // The API and the worker stop on their own when their channel to the launcher closes, killing
    // themselves at the grace counted from when they notice; redis-server's guard does the same for
    // redis-server. Noticing and being reaped take a moment on a loaded machine: twice the grace.
    await waitUntilGone(pids, 2 * GRACE_MS);
    // A launcher killed outright cannot delete its redis-server's folder; the test does.
    const dataDir = /private redis-server at \S+ \(data in (\S+),/.exec(launcher.output())?.[1];
    expect(dataDir).toBeDefined();
    rmSync(dataDir!, { recursive: true, force: true });
  });
});

describe('Ctrl-C or SIGTERM to npm start', () => {
  const ctrlC = (npm: ChildProcess) => process.kill(-npm.pid!, 'SIGINT'); // a terminal signals the whole foreground group
  const sigterm = (npm: ChildProcess) => npm.kill('SIGTERM'); // npm forwards it to the script
  it.each([
    ['Ctrl-C', ctrlC],
    ['SIGTERM to npm', sigterm],
  ])(
    '%s reaches the launcher, which stops the API and the worker, then redis-server and the database, within the grace',
    async (_, signal) => {
      // npm runs the start script with sh; the script must `exec` the launcher, or sh would take the
      // SIGTERM npm forwards and die, leaving the launcher behind. Run it through npm as it stands,
      // with the build step (which would rewrite dist/ under the other tests) left out.
      const script = (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
      expect(script).toMatch(/^npm run build --silent && exec node dist\/tools\/start\/start\.js$/);
      const dir = mkdtempSync(join(tmpdir(), 'fathom-npm-start-'));
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({
          name: 'npm-start',
          private: true,
          scripts: { start: script.replace('npm run build --silent', 'true').replace('dist/', `${repoRoot()}/dist/`) },
        }),
      );
      const env = await launcherEnv();
      // A process group of its own, as a shell gives a job: Ctrl-C reaches npm and the launcher, not the children.
      const npm = spawn('npm', ['start'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let output = '';
      npm.stdout.on('data', (d: Buffer) => (output += d.toString()));
      npm.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
      const launcher = { child: npm, output: () => output } as unknown as NodeProcess;
      try {
        await new Promise<void>((resolve, reject) => {
          const check = () => /Fathom is running\./.test(output) && resolve();
          npm.stdout.on('data', check);
          void exited.then(() => reject(new Error('npm start exited before it was running')));
          setTimeout(() => reject(new Error('npm start was not running within 60 s')), 60_000).unref();
        });
        // npm's child is the launcher itself (the script execs it).
        const [launcherPid, ...others] = childPids(npm.pid!);
        expect(others).toEqual([]);
        const pids = [launcherPid!, ...childPids(launcherPid!), startedPid(launcher, 'redis-server')];
        expect(pids).toHaveLength(6); // launcher, API, worker, the embedded database, redis-server's guard, redis-server

        signal(npm);
        // API and worker stop in parallel, then redis-server: each bounded by the grace.
        let timer: NodeJS.Timeout | undefined;
        const code = await Promise.race([
          exited,
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('npm start did not exit')), 2 * GRACE_MS + GRACE_MS / 2))),
        ]).finally(() => clearTimeout(timer));
        expect(code).toBe(0);
        expect(pids.filter(isRunning)).toEqual([]);
        const stops = launcherLines(output)
          .filter((l) => / stopped$/.test(l.msg))
          .map((l) => l.process);
        expect(stops.slice(0, 2).sort()).toEqual(['api', 'worker']);
        expect(stops.slice(2).sort()).toEqual(['database', 'redis-server']);
        expect(launcherLines(output).filter((l) => / was killed$/.test(l.msg))).toEqual([]);
      } catch (error) {
        process.kill(-npm.pid!, 'SIGKILL'); // npm and the launcher; the children then end by themselves
        throw failWithOutput(launcher, error);
      }
    },
  );
});
