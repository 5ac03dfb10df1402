import { DATABASE_ENGINES, migratedDatabasePerTest } from '@fathom/testing';
import { ErrorCode } from '@fathom/contracts';
import type { Database } from '../database';
import { ApiKeyStore } from './api-key.store';
import { ApiKeyVerifier } from './api-key.verifier';
import { AuditLogStore } from './audit-log.store';
import { parseApiKey } from './api-key-token';

const cli = { actor: 'cli:ops' };

describe.each(DATABASE_ENGINES)('API keys, on %s', (_engine, createDatabaseForTest) => {
  let db: Database;
  let keys: ApiKeyStore;
  let audit: AuditLogStore;

  const each = migratedDatabasePerTest(createDatabaseForTest);
  beforeEach(() => {
    db = each.db;
    keys = new ApiKeyStore(db);
    audit = new AuditLogStore(db);
  });

  it('creates a key whose secret is shown once and stored only as a digest', async () => {
    const created = await keys.create(
      { owner: 'ops', name: 'deploy bot', scopes: ['keys:admin', 'models:admin'], limits: { jobsInFlight: 4 } },
      cli,
    );
    expect(created.key).toMatch(new RegExp(`^fth_${created.id}_[A-Za-z0-9_-]{43}$`));
    const { secret } = parseApiKey(created.key)!;
    const row = await db.selectFrom('api_keys').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(await keys.get(created.id)).toEqual({
      id: created.id,
      owner: 'ops',
      name: 'deploy bot',
      scopes: ['keys:admin', 'models:admin'],
      limits: { requestsPerSecond: null, jobsInFlight: 4 },
      createdAt: created.createdAt,
      createdBy: 'cli:ops',
      lastUsedAt: null,
      revokedAt: null,
      revokedBy: null,
    });
    expect(await keys.list()).toEqual([expect.not.objectContaining({ key: expect.anything() })]);
  });

  it('verifies the key it issued, and no other: a wrong secret, an unknown id, garbage', async () => {
    const { key, id } = await keys.create({ owner: 'app', scopes: ['jobs:write'] }, cli);
    const verifier = new ApiKeyVerifier(keys, { cacheMs: 1_000 });
    expect(await verifier.verify(key)).toEqual({
      keyId: id,
      owner: 'app',
      scopes: ['jobs:write'],
      limits: { requestsPerSecond: null, jobsInFlight: null },
    });
    const wrongSecret = `${key.slice(0, -4)}AAAA` === key ? `${key.slice(0, -4)}BBBB` : `${key.slice(0, -4)}AAAA`;
    expect(await verifier.verify(wrongSecret)).toBeUndefined();
    expect(await verifier.verify(`fth_aaaaaaaaaaaaaaaa_${'A'.repeat(43)}`)).toBeUndefined();
    expect(await verifier.verify('hunter2')).toBeUndefined();
  });

  it('stops accepting a revoked key once the cache time has passed, and records who revoked it', async () => {
    const { key, id } = await keys.create({ owner: 'app', scopes: ['jobs:read'] }, cli);
    let now = 0;
    const verifier = new ApiKeyVerifier(keys, { cacheMs: 5_000, now: () => now });
    expect(await verifier.verify(key)).toBeDefined();
    const revoked = await keys.revoke(id, { actor: 'abcdefghijklmnop', traceId: 'trace-1' });
    expect(revoked).toMatchObject({ id, revokedBy: 'abcdefghijklmnop', revokedAt: expect.any(String) });
    // Within the cache time this instance still trusts what it read; after it, the revocation holds.
    expect(await verifier.verify(key)).toBeDefined();
    now = 5_000;
    expect(await verifier.verify(key)).toBeUndefined();
    expect(await keys.hasActiveKey()).toBe(false);
    // Revoking again changes nothing and writes no second entry.
    expect((await keys.revoke(id, cli)).revokedBy).toBe('abcdefghijklmnop');
    expect((await audit.list(10)).map((e) => [e.action, e.actor, e.targetId, e.traceId])).toEqual([
      ['key.revoked', 'abcdefghijklmnop', id, 'trace-1'],
      ['key.created', 'cli:ops', id, null],
    ]);
  });

  it('writes last_used_at on use, at most once per interval', async () => {
    const { key, id } = await keys.create({ owner: 'app', scopes: ['jobs:read'] }, cli);
    let now = 0;
    const touched: string[] = [];
    const store = Object.assign(Object.create(keys) as ApiKeyStore, {
      touch: (keyId: string) => {
        touched.push(keyId);
        return keys.touch(keyId);
      },
    });
    const verifier = new ApiKeyVerifier(store, { cacheMs: 1_000, touchEveryMs: 60_000, now: () => now });
    await verifier.verify(key);
    await verifier.verify(key);
    now = 60_000;
    await verifier.verify(key);
    expect(touched).toEqual([id, id]);
  });

  it('answers 404 key_not_found for a key that does not exist', async () => {
    await expect(keys.get('nosuchkey')).rejects.toMatchObject({ code: ErrorCode.KeyNotFound });
    await expect(keys.revoke('nosuchkey', cli)).rejects.toMatchObject({ code: ErrorCode.KeyNotFound });
  });

  it('pages the audit log newest first', async () => {
    for (const owner of ['a', 'b', 'c']) await keys.create({ owner, scopes: ['jobs:read'] }, cli);
    const first = await audit.list(2);
    expect(first.map((e) => e.details['owner'])).toEqual(['c', 'b']);
    const next = await audit.list(2, first[1]!.id);
    expect(next.map((e) => e.details['owner'])).toEqual(['a']);
  });
});
