/**
 * `npm run keys -- create | list | revoke <id>`: API keys, straight in the database (DATABASE_URL),
 * so the first key can be made before the API starts. Migrates the database first, as the API does.
 * Every change is written to the audit log as `cli:<user>`.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { databaseSettings, ConfigError } from '@fathom/config';
import { FathomError, scopeSchema, type Scope } from '@fathom/contracts';
import { ApiKeyStore, createDatabase, MigrationError, migrateToLatest, type ApiKeyView } from '@fathom/database';
import { loadKeysCliConfig } from './keys.config';

const USAGE = `Usage: npm run keys -- <command>

Commands:
  create --owner <who> --scopes <s1,s2> [--name <label>] [--requests-per-second N] [--jobs-in-flight N]
                    make a key and print it once (only its digest is stored); scopes: jobs:write,
                    jobs:read, models:admin, keys:admin
  list              every key: id, owner, name, scopes, limits, created, last used, revoked
  revoke <id>       revoke a key: every API instance refuses it within API_KEY_CACHE_MS

Environment:
  DATABASE_URL      the API's PostgreSQL (postgres://user:password@host:5432/database)`;

const USAGE_ERROR = 2;

function usageError(problem: string): number {
  console.error(`keys: ${problem}\n\n${USAGE}`);
  return USAGE_ERROR;
}

function positiveInt(flag: string, value: string | undefined): number | null | string {
  if (value === undefined) return null;
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : `--${flag} must be a positive whole number (got "${value}")`;
}

function describe(key: ApiKeyView): string {
  const limits = [
    key.limits.requestsPerSecond === null ? null : `${key.limits.requestsPerSecond} req/s`,
    key.limits.jobsInFlight === null ? null : `${key.limits.jobsInFlight} jobs in flight`,
  ].filter(Boolean);
  return [
    key.id,
    key.owner,
    key.name ?? '-',
    key.scopes.join(','),
    limits.length > 0 ? limits.join(', ') : 'default limits',
    `created ${key.createdAt} by ${key.createdBy}`,
    key.lastUsedAt ? `last used ${key.lastUsedAt}` : 'never used',
    key.revokedAt ? `REVOKED ${key.revokedAt} by ${key.revokedBy ?? '?'}` : 'active',
  ].join('  ');
}

async function main(argv: string[]): Promise<number> {
  let args: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    args = parseArgs({
      args: argv,
      options: {
        help: { type: 'boolean', short: 'h' },
        owner: { type: 'string' },
        name: { type: 'string' },
        scopes: { type: 'string' },
        'requests-per-second': { type: 'string' },
        'jobs-in-flight': { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { values, positionals } = args;
  const [command, ...operands] = positionals;
  if (values['help']) {
    console.log(USAGE);
    return 0;
  }
  if (command === undefined) return usageError('no command given');
  if (!['create', 'list', 'revoke'].includes(command)) return usageError(`unknown command "${command}"`);
  const flags = ['owner', 'name', 'scopes', 'requests-per-second', 'jobs-in-flight'].filter((f) => values[f] !== undefined);
  if (command !== 'create' && flags.length > 0) return usageError(`--${flags[0]} goes with create`);
  if (command === 'revoke' && operands.length !== 1) return usageError('revoke takes one key id');
  if (command !== 'revoke' && operands.length > 0) return usageError(`${command} takes no arguments (got ${operands.join(' ')})`);

  let spec:
    | { owner: string; name: string | null; scopes: Scope[]; limits: { requestsPerSecond: number | null; jobsInFlight: number | null } }
    | undefined;
  if (command === 'create') {
    const owner = typeof values['owner'] === 'string' ? values['owner'].trim() : '';
    if (!owner) return usageError('create needs --owner (who the key is for)');
    const scopes = (typeof values['scopes'] === 'string' ? values['scopes'] : '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (scopes.length === 0) return usageError('create needs --scopes (comma-separated)');
    const unknown = scopes.filter((s) => !scopeSchema.safeParse(s).success);
    if (unknown.length > 0) return usageError(`unknown scope ${unknown.join(', ')} (known: ${scopeSchema.options.join(', ')})`);
    const rps = positiveInt('requests-per-second', values['requests-per-second'] as string | undefined);
    const jobs = positiveInt('jobs-in-flight', values['jobs-in-flight'] as string | undefined);
    if (typeof rps === 'string') return usageError(rps);
    if (typeof jobs === 'string') return usageError(jobs);
    const name = typeof values['name'] === 'string' ? values['name'].trim() || null : null;
    spec = { owner, name, scopes: [...new Set(scopes)] as Scope[], limits: { requestsPerSecond: rps, jobsInFlight: jobs } };
  }

  const config = loadKeysCliConfig();
  const db = createDatabase(databaseSettings(config, 'fathom-keys'));
  try {
    await migrateToLatest(db);
    const keys = new ApiKeyStore(db);
    const actor = { actor: `cli:${cliUser()}` };
    if (command === 'list') {
      const all = await keys.list();
      if (all.length === 0) console.log('no keys yet: npm run keys -- create --owner <who> --scopes <scopes>');
      for (const key of all) console.log(describe(key));
      return 0;
    }
    if (command === 'revoke') {
      const key = await keys.revoke(operands[0]!, actor);
      console.log(`revoked ${key.id} (${key.owner}) at ${key.revokedAt ?? '?'}`);
      return 0;
    }
    const created = await keys.create(spec!, actor);
    console.log(describe(created));
    // The key alone on the last line, so a script can take it with `tail -n 1`.
    console.log('The key (shown only now; store it as a secret):');
    console.log(created.key);
    return 0;
  } finally {
    await db.destroy();
  }
}

function cliUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

// exitCode, not exit(): stdout and stderr are flushed before the process ends.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // A bad environment, an unreachable database or an unknown key: the message, not a stack trace.
    const known = error instanceof ConfigError || error instanceof MigrationError || error instanceof FathomError;
    console.error(known ? `keys: ${(error as Error).message}` : error);
    process.exitCode = 1;
  },
);
