import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { buildDepthStandInModel, repoRoot, spawnNodeProcess, type NodeProcess } from '@fathom/testing';

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The pid of the launcher's child `name`, from the "process started" line it always logs. */
function startedPid(launcher: NodeProcess, name: string): number {
  const line = launcher
    .output()
    .split('\n')
    .filter((l) => l.includes('"msg":"process started"') && l.includes(`"process":"${name}"`))
    .at(-1);
  if (line === undefined) throw new Error(`the launcher logged no start of ${name}`);
  return (JSON.parse(line) as { pid: number }).pid;
}

/** A process's environment as the kernel holds it (what glibc read at its start). */
const environOf = (pid: number): string[] => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');

/**
 * `npm start` as a newcomer runs it (REDIS_URL unset: a private redis-server). Downloadable models
 * are fetched at first start when the network allows; what cannot be fetched is named in the
 * start-up summary with the command that fetches it. The "network" is a local server here.
 */
describe('npm start pulls what it can, serves it, and says what is missing', () => {
  const model = buildDepthStandInModel();
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.url === '/depth.onnx') response.writeHead(200, { 'content-length': model.length }).end(model);
      else response.writeHead(404).end('not here');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('starts redis, the embedded database, API and worker, downloads the newest version, and prints what is loaded and missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fathom-start-'));
    const sha256 = createHash('sha256').update(model).digest('hex');
    const manifest = (version: string, path: string) =>
      `name: tiny-depth\nversion: ${version}\ntask: depth\nweights: { url: "${base}${path}", sha256: "${sha256}" }\ninput: { resize: { mode: fixed, width: 28, height: 28 } }\n`;
    writeFileSync(join(dir, 'tiny-1.model.yaml'), manifest('1.0.0', '/old.onnx')); // older: not pulled at start
    writeFileSync(join(dir, 'tiny-2.model.yaml'), manifest('2.0.0', '/depth.onnx'));
    writeFileSync(join(dir, 'gone.model.yaml'), manifest('1.0.0', '/gone.onnx').replace('tiny-depth', 'gone-depth'));
    const port = await freePort();
    const env: Record<string, string> = {
      REDIS_URL: '',
      DATABASE_URL: '',
      START_DATABASE_DIR: join(dir, 'database'),
      STORAGE_DIR: join(dir, 'blobs'),
      PORT: String(port),
      MODELS_DIR: dir,
      MODELS_CACHE_DIR: join(dir, 'cache'),
      WORKER_BUILTIN_MODELS: 'false',
      LOG_LEVEL: 'warn',
      // Free ports, not the defaults another test or a running Fathom may hold.
      WORKER_METRICS_PORT: '0',
      START_METRICS_PORT: '0',
      API_METRICS_PORT: '0',
    };
    const start = spawnNodeProcess(join(repoRoot(), 'dist/tools/start/start.js'), env, { inheritEnv: true });
    try {
      await start.waitForLine(/Fathom is running\./, 90_000);
      await start.waitForLine(/Ctrl-C stops everything/, 5_000);
      const output = start.output();
      expect(output).toMatch(/started a private redis-server at redis:\/\/127\.0\.0\.1:\d+/);
      expect(output).toMatch(
        /started an embedded PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres \(data in .*database, kept;/,
      );
      expect(output).toMatch(/fathom: tiny-depth@2\.0\.0: downloaded .* → /);
      expect(output).toMatch(/fathom: gone-depth@1\.0\.0: .*404/);
      expect(output).toMatch(/fathom: starting without what could not be downloaded\./);
      expect(output).toMatch(/Loaded: +tiny-depth@2\.0\.0 \(depth\)/);
      expect(output).toMatch(/Missing: +gone-depth@1\.0\.0, tiny-depth@1\.0\.0 \(weights not downloaded\)/);
      expect(output).toMatch(/npm run models -- pull gone-depth/);

      // The API's own /metrics is at the address printed (API_METRICS_PORT=0: the launcher chose the port).
      const metrics = /Metrics: +(http:\/\/127\.0\.0\.1:(\d+)\/metrics) +\(the API's/.exec(output);
      expect(metrics?.[2]).not.toBe('0');
      const scrape = await fetch(metrics![1]!);
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toContain('# TYPE fathom_jobs_submitted_total counter');
      // glibc reads MALLOC_ARENA_MAX once, at the worker's start: it must be in the worker's own environment.
      expect(environOf(startedPid(start, 'worker'))).toContain('MALLOC_ARENA_MAX=2');

      const body = new FormData();
      body.append('model', 'tiny-depth');
      body.append(
        'image',
        new Blob([
          new Uint8Array(
            await sharp({ create: { width: 32, height: 16, channels: 3, background: '#808080' } })
              .png()
              .toBuffer(),
          ),
        ]),
        'grey.png',
      );
      const response = await fetch(`http://127.0.0.1:${port}/v1/infer`, { method: 'POST', body });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/png');
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- npm start printed:\n${start.output()}`, { cause: error });
    } finally {
      start.kill('SIGTERM');
      await start.waitForExit(30_000);
    }
    expect(start.child.exitCode).toBe(0);
  });
});
