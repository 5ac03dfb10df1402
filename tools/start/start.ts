/**
 * `npm start`: the whole service on one machine — API (with the web page), one worker, and a
 * private redis-server when REDIS_URL is unset. Ctrl-C stops everything.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ConfigError } from '@fathom/config';
import type { ModelListing } from '@fathom/contracts';
import { defaultCacheDir } from '@fathom/models';
import { startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { pullMissingModels } from './pull-on-start';
import { loadStartConfig, type StartConfig } from './start.config';

const root = join(__dirname, '..', '..', '..');

const children: ChildProcess[] = [];
let redis: RedisServerHandle | undefined;
let stopping = false;

function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

async function redisUrl(settings: StartConfig): Promise<string> {
  if (settings.REDIS_URL) return settings.REDIS_URL;
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
  redis = await startRedisServer();
  console.log(`fathom: started a private redis-server at ${redis.url} (data in ${redis.dir}, discarded on exit)`);
  return redis.url;
}

function run(name: string, script: string, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [join(root, 'dist', script)], { env, stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`fathom: the ${name} stopped (${signal ?? `exit code ${code}`}); stopping everything.`);
    void stop(1);
  });
  children.push(child);
  return child;
}

async function waitUntilReady(url: string, timeoutMs: number): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) return (await fetch(`${url}/v1/models`)).json();
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the service was not ready within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const exits = children.map((child) =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve)),
  );
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(exits);
  await redis?.stop();
  process.exit(code);
}

async function main(): Promise<void> {
  const settings = loadStartConfig();
  const port = String(settings.PORT);
  const cacheDir = defaultCacheDir(settings);
  if (settings.MODELS_PULL_ON_START) {
    await pullMissingModels({ builtin: settings.WORKER_BUILTIN_MODELS, modelsDir: settings.MODELS_DIR, cacheDir }, (line) =>
      console.log(line),
    );
  }
  // The children get this environment as it is (they validate what they read), with the launcher's choices.
  const env = { ...process.env, REDIS_URL: await redisUrl(settings), PORT: port, MODELS_CACHE_DIR: cacheDir };
  run('API', 'apps/api/src/main.js', env);
  run('worker', 'apps/worker/src/main.js', env);
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  const base = `http://localhost:${port}`;
  const { models } = (await waitUntilReady(base, 120_000)) as { models: ModelListing[] };
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
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch((error: Error) => {
  // A ConfigError's message already starts with the service's name.
  console.error(error instanceof ConfigError ? error.message : `fathom: ${error.message}`);
  void stop(1);
});
