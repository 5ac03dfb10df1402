import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '@fathom/testing';

/** A path inside the repository, from its root. */
export function repoPath(...parts: string[]): string {
  return join(repoRoot(), ...parts);
}

/** The path relative to the repository root, with `/` separators. */
export function fromRoot(path: string): string {
  return relative(repoRoot(), path).split('\\').join('/');
}

export function readText(...parts: string[]): string {
  return readFileSync(repoPath(...parts), 'utf8');
}

/** Parses a YAML file of the repository; a syntax error fails with the file's name. */
export function readYaml(...parts: string[]): unknown {
  try {
    return parse(readText(...parts), { prettyErrors: true, uniqueKeys: true }) as unknown;
  } catch (error) {
    throw new Error(`${parts.join('/')}: ${(error as Error).message}`, { cause: error });
  }
}

export type Dict = Record<string, unknown>;

export function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The mapping at `path` inside `value`, or an error naming the path. */
export function dictAt(value: unknown, ...path: string[]): Dict {
  let node = value;
  for (const key of path) node = isDict(node) ? node[key] : undefined;
  if (!isDict(node)) throw new Error(`expected a mapping at ${path.join('.') || '(root)'}`);
  return node;
}

export function listAt(value: unknown, ...path: string[]): unknown[] {
  let node = value;
  for (const key of path) node = isDict(node) ? node[key] : undefined;
  if (!Array.isArray(node)) throw new Error(`expected a list at ${path.join('.')}`);
  return node as unknown[];
}

export function stringAt(value: unknown, ...path: string[]): string {
  let node = value;
  for (const key of path) node = isDict(node) ? node[key] : undefined;
  if (typeof node !== 'string') throw new Error(`expected a string at ${path.join('.')}`);
  return node;
}

/**
 * Compose's variable interpolation (`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?error}`, `${VAR?error}`, `$$`), applied to every string value as `docker compose` does
 * before it validates the file. A required variable that is missing throws its error text.
 */
export function interpolate<T>(value: T, env: Record<string, string | undefined>): T {
  if (typeof value === 'string') return interpolateString(value, env) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => interpolate(item, env)) as T;
  if (isDict(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)])) as T;
  return value;
}

function interpolateString(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    /\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (
      _match,
      dollar: string | undefined,
      braced: string | undefined,
      op: string | undefined,
      arg: string | undefined,
      bare: string | undefined,
    ) => {
      if (dollar) return '$';
      const name = (braced ?? bare)!;
      const set = env[name] !== undefined;
      const nonEmpty = set && env[name] !== '';
      switch (op) {
        case ':-':
          return nonEmpty ? env[name]! : (arg ?? '');
        case '-':
          return set ? env[name]! : (arg ?? '');
        case ':?':
          if (!nonEmpty) throw new Error(`required variable ${name} is missing a value: ${arg ?? ''}`);
          return env[name]!;
        case '?':
          if (!set) throw new Error(`required variable ${name} is missing a value: ${arg ?? ''}`);
          return env[name]!;
        default:
          return env[name] ?? '';
      }
    },
  );
}

/** Compose's merge of an override file onto a base: mappings merge key by key, anything else is replaced. */
export function mergeCompose(base: unknown, override: unknown): unknown {
  if (!isDict(base) || !isDict(override)) return override;
  const merged: Dict = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = key in base ? mergeCompose(base[key], value) : value;
  return merged;
}

/** One bind mount or named volume of a service, from Compose's short syntax. */
export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
  /** Bind mounts only: the absolute path of the source on the host. */
  hostPath?: string;
}

export function serviceMounts(service: Dict, composeDir: string): Mount[] {
  return (Array.isArray(service['volumes']) ? (service['volumes'] as unknown[]) : []).map((entry) => {
    if (typeof entry !== 'string') throw new Error(`use the short volume syntax (source:target[:ro]): ${JSON.stringify(entry)}`);
    const [source = '', target = '', mode = ''] = entry.split(':');
    const bind = source.startsWith('.') || source.startsWith('/');
    return { source, target, readOnly: mode.split(',').includes('ro'), hostPath: bind ? resolve(composeDir, source) : undefined };
  });
}

/** The environment of a service as a mapping (Compose accepts a mapping or a list of KEY=VALUE). */
export function serviceEnv(service: Dict): Record<string, string> {
  const env = service['environment'];
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((line) => {
        const text = String(line);
        const eq = text.indexOf('=');
        return eq < 0 ? [text, ''] : [text.slice(0, eq), text.slice(eq + 1)];
      }),
    );
  }
  if (isDict(env))
    return Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '']),
    );
  return {};
}

/** Splits `http://host:port/path` into host and port. */
export function hostPort(url: string): { host: string; port: number } {
  const parsed = new URL(url.includes('://') ? url : `tcp://${url}`);
  return { host: parsed.hostname, port: Number(parsed.port) };
}

/**
 * GitHub's heading anchors: lowercase, spaces to `-`, punctuation other than `-` and `_` dropped.
 * Enough for the runbook headings, which are alert names.
 */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export function markdownAnchors(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map((m) => headingAnchor(m[1]!)));
}

export interface CommandResult {
  status: number | null;
  output: string;
}

const PROMTOOL_MISSING =
  'promtool is not on the PATH. Install Debian\'s "prometheus" package (sudo apt-get install prometheus); ' +
  '.ci/run installs it when promtool is missing.';

/** Runs promtool in `cwd`; a missing promtool is a failure that says how to install it, never a skip. */
export function promtool(args: string[], cwd: string): CommandResult {
  const run = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(PROMTOOL_MISSING);
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Fails with the command's whole output unless it exited 0. */
export function expectSuccess(what: string, result: CommandResult): void {
  if (result.status !== 0) throw new Error(`${what} exited with ${String(result.status)}:\n${result.output}`);
}

/** A stage of a Dockerfile: its base, its name and its instructions (continuation lines joined). */
export interface DockerStage {
  from: string;
  name?: string;
  instructions: { keyword: string; args: string }[];
}

export function parseDockerfile(text: string): { args: Record<string, string>; stages: DockerStage[] } {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [, image = '', name] = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest) ?? [];
      const from = image.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_m, arg: string) => args[arg] ?? `\${${arg}}`);
      stages.push({ from, name, instructions: [] });
    } else if (upper === 'ARG' && stages.length === 0) {
      const [, argName = '', argDefault = ''] = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(rest) ?? [];
      args[argName] = argDefault;
    } else {
      stages.at(-1)?.instructions.push({ keyword: upper, args: rest });
    }
  }
  return { args, stages };
}

/** The stages a target is built from, the target first, following `FROM <stage>` to an image. */
export function stageChain(stages: DockerStage[], target: string): DockerStage[] {
  const chain: DockerStage[] = [];
  let stage = stages.find((s) => s.name === target);
  while (stage && !chain.includes(stage)) {
    chain.push(stage);
    const base = stage.from;
    stage = stages.find((s) => s.name === base);
  }
  if (chain.length === 0) throw new Error(`no stage named ${target}`);
  return chain;
}

/**
 * Whether .dockerignore keeps `path` out of the build context: its patterns in order, the last
 * match wins, `!` re-includes, a pattern matching a folder excludes what is inside it.
 */
export function dockerIgnored(patterns: string[], path: string): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    if (dockerIgnoreRegExp(negated ? raw.slice(1) : raw).test(path)) ignored = !negated;
  }
  return ignored;
}

function dockerIgnoreRegExp(pattern: string): RegExp {
  const p = pattern.replace(/^\/+|\/+$/g, '');
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*' && p[i + 1] === '*') {
      const slash = p[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}(?:/.*)?$`);
}

export function dockerIgnorePatterns(): string[] {
  return readText('.dockerignore')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Image references pinned to a version: a tag naming at least major.minor (`7.4.2-bookworm`, `v2.55.1`), or a digest. */
export function isPinnedImage(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const lastPart = image.split('/').at(-1) ?? '';
  const tag = lastPart.includes(':') ? lastPart.slice(lastPart.indexOf(':') + 1) : '';
  // MinIO's images are versioned by release date only (RELEASE.2024-10-29T16-01-48Z).
  return /\d+\.\d+/.test(tag) || /^RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/.test(tag);
}

export function exists(path: string): boolean {
  return existsSync(path);
}
