/**
 * `npm start`: the whole service on one machine — API (with the web page), one worker, a private
 * redis-server when REDIS_URL is unset, and an embedded PostgreSQL when DATABASE_URL is unset. A child that stops on its own is restarted with
 * backoff; Ctrl-C, SIGTERM or SIGHUP stops everything (API and worker first, redis last), and a
 * child notices by itself when the launcher is gone (launcher-watch.ts, child-guard.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@fathom/config';
import type { ModelListing } from '@fathom/contracts';
import { defaultCacheDir } from '@fathom/models';
import { createLogger } from '@fathom/telemetry';
import { freePort } from '@fathom/testing';
import { metricsUrl, workerEnv } from './child-env';
import { spawnEmbeddedDatabase } from './embedded-database';
import { LauncherMetrics } from './launcher-metrics';
import { spawnPrivateRedis } from './private-redis';
import { pullMissingModels } from './pull-on-start';
import type { RestartPolicy } from './restart-backoff';
import { databaseDir, loadStartConfig, type StartConfig } from './start.config';
import { PROCESS_NAMES, SupervisedProcess, type Spawned, type SupervisorHooks } from './supervised-process';

const root = join(__dirname, '..', '..', '..');

function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

function restartPolicy(settings: StartConfig): RestartPolicy {
  return {
    delayMs: settings.START_RESTART_DELAY_MS,
    maxDelayMs: settings.START_RESTART_MAX_DELAY_MS,
    resetAfterMs: settings.START_RESTART_RESET_MS,
  };
}

/** A Node child: own process group (Ctrl-C reaches only the launcher), an IPC channel it watches. */
function nodeChild(script: string, env: NodeJS.ProcessEnv): () => Spawned {
  return () => {
    const child = spawn(process.execPath, ['--require', join(__dirname, 'launcher-watch.js'), join(root, 'dist', script)], {
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true,
    });
    const pid = child.pid === undefined ? Promise.reject(new Error(`could not start ${script}`)) : Promise.resolve(child.pid);
    return { child, pid };
  };
}

/**
 * Waits for the API to be ready and its worker to be alive: /readyz no longer requires a worker
 * (pools may scale to zero, ADR 0015), but the launcher started one and lists what it loaded.
 */
async function waitUntilReady(url: string, timeoutMs: number): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`${url}/readyz`);
      const body = (await response.json().catch(() => null)) as { details?: { workers?: { alive?: unknown } } } | null;
      const alive = body?.details?.workers?.alive;
      if (response.ok && typeof alive === 'number' && alive > 0) return (await fetch(`${url}/v1/models`)).json();
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the service was not ready within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

class Launcher {
  // Its own few lines (starts, restarts, stops) are always logged, whatever LOG_LEVEL the children get.
  private readonly log = createLogger('fathom-start', 'info');
  private readonly metrics: LauncherMetrics;
  private readonly policy: RestartPolicy;
  private readonly hooks: SupervisorHooks = {
    restarted: (name) => this.metrics.restarted(name),
    failedToStart: (name, ending) => {
      console.error(`fathom: the ${name} stopped (${ending}) before Fathom was up; stopping everything.`);
      void this.stop(1);
    },
  };
  private redis?: { process: SupervisedProcess; dir: string };
  private database?: SupervisedProcess;
  private readonly services: SupervisedProcess[] = [];
  private stopping = false;

  constructor(private readonly settings: StartConfig) {
    this.policy = restartPolicy(settings);
    this.metrics = new LauncherMetrics(
      PROCESS_NAMES.filter((name) => (name !== 'redis-server' || !settings.REDIS_URL) && (name !== 'database' || !settings.DATABASE_URL)),
    );
  }

  async run(): Promise<void> {
    const { settings } = this;
    const port = String(settings.PORT);
    const cacheDir = defaultCacheDir(settings);
    const launcherMetricsUrl = await this.metrics.listen(settings.START_METRICS_PORT, settings.START_METRICS_HOST).catch((error: Error) => {
      throw new Error(
        `the launcher's metrics cannot listen on ${settings.START_METRICS_HOST}:${settings.START_METRICS_PORT} (${error.message}); set START_METRICS_PORT`,
      );
    });
    if (settings.MODELS_PULL_ON_START) {
      await pullMissingModels({ builtin: settings.WORKER_BUILTIN_MODELS, modelsDir: settings.MODELS_DIR, cacheDir }, (line) =>
        console.log(line),
      );
    }
    // 0 (any free port) is chosen here: the banner can name it, and a restarted API keeps it.
    const apiMetricsPort = settings.API_METRICS_PORT || (await freePort());
    // The children get this environment as it is (they validate what they read), with the launcher's
    // choices; launcher-watch.ts reads the grace from it.
    const [redisUrl, databaseUrl] = await Promise.all([this.redisUrl(), this.databaseUrl()]);
    const env = {
      ...process.env,
      REDIS_URL: redisUrl,
      DATABASE_URL: databaseUrl,
      PORT: port,
      API_METRICS_PORT: String(apiMetricsPort),
      MODELS_CACHE_DIR: cacheDir,
      START_STOP_GRACE_MS: String(settings.START_STOP_GRACE_MS),
    };
    this.services.push(
      new SupervisedProcess('api', nodeChild('apps/api/src/main.js', env), this.policy, this.log, this.hooks),
      new SupervisedProcess('worker', nodeChild('apps/worker/src/main.js', workerEnv(env)), this.policy, this.log, this.hooks),
    );
    await Promise.all(this.services.map((service) => service.start()));
    const base = `http://localhost:${port}`;
    const { models } = (await waitUntilReady(base, 120_000)) as { models: ModelListing[] };
    if (this.stopping) return;
    for (const supervised of [this.redis?.process, this.database, ...this.services]) supervised?.supervise();
    const versions = models.flatMap((m) => m.versions.map((v) => ({ ref: `${m.name}@${v.version}`, task: m.task, served: v.workers > 0 })));
    const missing = versions.filter((v) => !v.served);
    console.log(
      [
        '',
        'Fathom is running.',
        `  Web page:   ${base}/`,
        `  API docs:   ${base}/docs`,
        `  Jobs API:   ${base}/v1/jobs   (socket.io namespace /jobs)`,
        `  Loaded:     ${
          versions
            .filter((v) => v.served)
            .map((v) => `${v.ref} (${v.task})`)
            .join(', ') || '(none)'
        }`,
        ...(missing.length > 0
          ? [
              `  Missing:    ${missing.map((v) => v.ref).join(', ')} (weights not downloaded); fetch, then restart:`,
              ...[...new Set(missing.map((v) => v.ref.slice(0, v.ref.indexOf('@'))))].map(
                (name) => `              npm run models -- pull ${name}`,
              ),
            ]
          : []),
        `  Metrics:    ${metricsUrl(settings.API_METRICS_HOST, apiMetricsPort)}   (the API's: requests, jobs, queue depths, workers online)`,
        `  Restarts:   ${launcherMetricsUrl}   (a process that stops is restarted; fathom_launcher_restarts_total)`,
        '  Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
  }

  /** Stops every child: the API and the worker first (the worker hands its jobs back to Redis), redis-server and the database last. */
  async stop(code: number, signal?: NodeJS.Signals): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const graceMs = this.settings.START_STOP_GRACE_MS;
    if (signal) this.log.info({ msg: `${signal}: stopping everything`, graceMs });
    await Promise.all(this.services.map((service) => service.stop(graceMs)));
    await Promise.all([
      this.redis?.process.stop(graceMs).then(() => rmSync(this.redis!.dir, { recursive: true, force: true })),
      this.database?.stop(graceMs),
    ]);
    await this.metrics.close();
    this.log.info({ msg: 'stopped', code });
    process.exit(code);
  }

  /** DATABASE_URL, or the embedded PostgreSQL's, started here: on one port for its whole life, its files kept. */
  private async databaseUrl(): Promise<string> {
    if (this.settings.DATABASE_URL) return this.settings.DATABASE_URL;
    const port = await freePort();
    const dir = databaseDir(this.settings);
    this.database = new SupervisedProcess('database', () => spawnEmbeddedDatabase(port, dir), this.policy, this.log, this.hooks);
    await this.database.start();
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    console.log(`fathom: started an embedded PostgreSQL at ${url} (data in ${dir}, kept; set DATABASE_URL to use your own server)`);
    return url;
  }

  private async redisUrl(): Promise<string> {
    if (this.settings.REDIS_URL) return this.settings.REDIS_URL;
    if (!onPath('redis-server')) {
      console.error(
        [
          'fathom: REDIS_URL is not set and redis-server is not on the PATH.',
          '  Either install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)',
          '  or point Fathom at one: REDIS_URL=redis://localhost:6379 npm start',
        ].join('\n'),
      );
      process.exit(1);
    }
    // One port and folder for its whole life: a restarted redis-server is where the children look, with its data.
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'fathom-redis-'));
    const guard = join(__dirname, 'child-guard.js');
    const supervised = new SupervisedProcess('redis-server', () => spawnPrivateRedis(guard, port, dir), this.policy, this.log, this.hooks);
    this.redis = { process: supervised, dir };
    await supervised.start();
    const url = `redis://127.0.0.1:${port}`;
    console.log(`fathom: started a private redis-server at ${url} (data in ${dir}, append-only, discarded on exit)`);
    return url;
  }
}

function configured(): Launcher {
  try {
    return new Launcher(loadStartConfig());
  } catch (error) {
    // A ConfigError's message already starts with the service's name.
    console.error(error instanceof ConfigError ? error.message : `fathom: ${(error as Error).message}`);
    process.exit(1);
  }
}

const launcher = configured();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void launcher.stop(0, signal));
launcher.run().catch((error: Error) => {
  console.error(`fathom: ${error.message}`);
  void launcher.stop(1);
});
