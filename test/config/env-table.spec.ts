import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '@fathom/testing';
import { API_ENV_KEYS, apiEnvSchema } from '../../apps/api/src/config/api.config';
import { WORKER_ENV_KEYS, workerEnvSchema } from '../../apps/worker/src/config/worker.config';
import { START_ENV_KEYS, startEnvSchema } from '../../tools/start/start.config';
import { MODELS_CLI_ENV_KEYS } from '../../tools/models/models.config';
import { KEYS_CLI_ENV_KEYS } from '../../tools/keys/keys.config';
import { EVAL_CLI_ENV_KEYS } from '../../tools/eval/eval.config';

/** Each process's schema keys, under the name the README's "read by" column gives the process. */
const PROCESSES: Record<string, string[]> = {
  api: API_ENV_KEYS,
  worker: WORKER_ENV_KEYS,
  start: START_ENV_KEYS,
  models: MODELS_CLI_ENV_KEYS,
  keys: KEYS_CLI_ENV_KEYS,
  eval: EVAL_CLI_ENV_KEYS,
};

const readme = () => readFileSync(join(repoRoot(), 'README.md'), 'utf8');

/** The rows of the table under "## Configuration": each variable named in the first cell, with the processes of the second. */
function readmeTable(): Map<string, string[]> {
  const section = readme()
    .split(/^## Configuration$/m)[1]
    ?.split(/^## /m)[0];
  if (section === undefined) throw new Error('README.md has no "## Configuration" section');
  const lines = section.split('\n').filter((line) => line.startsWith('|'));
  expect(lines[0]).toMatch(/^\| variable \| read by \| default \| what \|$/);
  const table = new Map<string, string[]>();
  const repeated: string[] = [];
  for (const line of lines.slice(2)) {
    const [variables = '', readBy = ''] = line.split('|').slice(1, 3);
    const names = [...variables.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!);
    if (names.length === 0) throw new Error(`README.md: a configuration row names no variable: ${line}`);
    for (const name of names) {
      if (table.has(name)) repeated.push(name);
      table.set(
        name,
        readBy.split(',').map((p) => p.trim()),
      );
    }
  }
  expect(repeated).toEqual([]);
  return table;
}

/** For every variable some schema declares, the processes whose schema declares it. */
function declared(): Map<string, string[]> {
  const byVariable = new Map<string, string[]>();
  for (const [process, keys] of Object.entries(PROCESSES))
    for (const key of keys) {
      byVariable.set(key, [...(byVariable.get(key) ?? []), process]);
    }
  return byVariable;
}

const sorted = (map: Map<string, string[]>): Record<string, string[]> =>
  Object.fromEntries([...map].map(([k, v]): [string, string[]] => [k, [...v].sort()]).sort(([a], [b]) => a.localeCompare(b)));

describe("README's environment table", () => {
  it('lists exactly the variables the schemas declare, each with the processes that read it', () => {
    expect(sorted(readmeTable())).toEqual(sorted(declared()));
  });

  it('names only processes that have a schema', () => {
    const processes = new Set([...readmeTable().values()].flat());
    expect([...processes].filter((p) => !(p in PROCESSES))).toEqual([]);
  });
});

describe('variables the API and the worker share', () => {
  it('come from one declaration, so the two cannot differ in default or bounds', () => {
    for (const key of [
      'REDIS_URL',
      'REDIS_PREFIX',
      'STORAGE_RETENTION_SECONDS',
      'LOG_LEVEL',
      'WORKER_HEARTBEAT_TTL_MS',
      'IMAGE_MAX_PIXELS',
    ] as const)
      expect([key, apiEnvSchema.shape[key]]).toEqual([key, workerEnvSchema.shape[key]]);
    expect(apiEnvSchema.shape.WORKER_HEARTBEAT_TTL_MS).toBe(workerEnvSchema.shape.WORKER_HEARTBEAT_TTL_MS);
    expect(apiEnvSchema.shape.IMAGE_MAX_PIXELS).toBe(workerEnvSchema.shape.IMAGE_MAX_PIXELS);
  });
});

describe('variables the API and npm start share', () => {
  it('come from one declaration, so the address npm start prints is where the API serves its metrics', () => {
    expect(startEnvSchema.shape.API_METRICS_PORT).toBe(apiEnvSchema.shape.API_METRICS_PORT);
    expect(startEnvSchema.shape.API_METRICS_HOST).toBe(apiEnvSchema.shape.API_METRICS_HOST);
  });
});

describe('deployment files', () => {
  /** Standard variables read by the OpenTelemetry SDK, Node and glibc's malloc, not by Fathom's schemas. */
  const standard = (name: string) => name.startsWith('OTEL_') || name === 'NODE_ENV' || name.startsWith('MALLOC_');

  it.each([
    ['deploy/compose/docker-compose.yml', 'api', API_ENV_KEYS],
    ['deploy/compose/docker-compose.yml', 'worker', WORKER_ENV_KEYS],
    ['deploy/compose/docker-compose.gpu.yml', 'worker', WORKER_ENV_KEYS],
  ])('%s sets only variables the %s reads', (file, service, keys) => {
    const compose = parse(readFileSync(join(repoRoot(), file), 'utf8')) as { services: Record<string, { environment?: object }> };
    const environment = Object.keys(compose.services[service]?.environment ?? {});
    expect(environment.length).toBeGreaterThan(0);
    expect(environment.filter((name) => !standard(name) && !keys.includes(name))).toEqual([]);
  });

  it('the Dockerfile sets only variables some process reads', () => {
    const dockerfile = readFileSync(join(repoRoot(), 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
    const names = [...dockerfile.matchAll(/^ENV (.*)$/gm)].flatMap((m) => [...m[1]!.matchAll(/([A-Z][A-Z0-9_]*)=/g)].map((n) => n[1]!));
    expect(names).toContain('MODELS_CACHE_DIR');
    const known = new Set(Object.values(PROCESSES).flat());
    expect(names.filter((name) => !standard(name) && !known.has(name))).toEqual([]);
  });
});
