import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { repoRoot } from '@fathom/testing';
import { depthModelsDir, FathomStack, LOAD_TEST_LIMITS_ENV } from './support/fathom-stack';

/**
 * The Locust load test (locust/locustfile.py) run headless for a few seconds against a local stack,
 * so it never rots: both user types must get jobs through and nothing may fail.
 */
const LOCUSTFILE = join(repoRoot(), 'locust', 'locustfile.py');

/** Debian's /usr/bin/locust first: a `python3` on PATH (pyenv) may lack locust and socketio. */
function findLocust(): string | undefined {
  const candidates = [
    '/usr/bin/locust',
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, 'locust')),
  ];
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function run(
  command: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

interface StatsRow {
  type: string;
  name: string;
  requests: number;
  failures: number;
}

/** Locust's <prefix>_stats.csv: Type,Name,Request Count,Failure Count,… (names here hold no commas or quotes). */
function readStats(file: string): StatsRow[] {
  const [header, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const columns = (header ?? '').split(',');
  const at = (name: string) => {
    const index = columns.indexOf(name);
    if (index < 0) throw new Error(`${file} has no column ${name}: ${header}`);
    return index;
  };
  const [type, name, requests, failures] = [at('Type'), at('Name'), at('Request Count'), at('Failure Count')];
  return lines.map((line) => {
    const cells = line.split(',').map((cell) => cell.replace(/^"|"$/g, ''));
    return { type: cells[type] ?? '', name: cells[name] ?? '', requests: Number(cells[requests]), failures: Number(cells[failures]) };
  });
}

describe('the Locust load test, headless against a local stack', () => {
  let stack: FathomStack;
  let key: string;

  beforeAll(async () => {
    stack = await FathomStack.start();
    // With keys on, as a deployment load-tested from another machine would be; users with no pause
    // between jobs may send more requests a second than a key's default limit allows.
    ({ key } = await stack.createKey('load-test', ['jobs:write', 'jobs:read']));
    await stack.startApi({ ...LOAD_TEST_LIMITS_ENV, API_AUTH: 'keys' });
    await stack.startWorker({ MODELS_DIR: depthModelsDir(), WORKER_BUILTIN_MODELS: 'false' });
  });
  afterAll(() => stack.stop());

  it('gets jobs through with both user types and no failures', async () => {
    const locust = findLocust();
    if (!locust) {
      throw new Error(
        'locust is not installed: run `sudo apt-get install python3-locust python3-socketio python3-websocket` (.ci/run does)',
      );
    }
    const csv = join(mkdtempSync(join(tmpdir(), 'fathom-locust-')), 'smoke');
    const args = [
      '-f',
      LOCUSTFILE,
      '--headless',
      '-u',
      '4',
      '-r',
      '4',
      '-t',
      '8s',
      '--host',
      stack.api.url,
      '--csv',
      csv,
      '--exit-code-on-error',
      '1',
    ];
    const { code, output } = await run(
      locust,
      args,
      { FATHOM_MODEL: 'depth-test', FATHOM_JOB_TIMEOUT_S: '20', FATHOM_API_KEY: key },
      60_000,
    );
    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });

    const stats = readStats(`${csv}_stats.csv`);
    const row = (type: string, name: string) => stats.find((r) => r.type === type && r.name === name);
    expect(row('POST', 'POST /v1/jobs')?.requests).toBeGreaterThan(0);
    expect(row('WS', 'job.completed')?.requests).toBeGreaterThan(0);
    expect(row('POLL', 'job.completed')?.requests).toBeGreaterThan(0);
    expect(row('GET', 'GET /v1/jobs/:id/result')?.requests).toBeGreaterThan(0);
    expect(stats.filter((r) => r.failures > 0)).toEqual([]);
  }, 90_000);
});
