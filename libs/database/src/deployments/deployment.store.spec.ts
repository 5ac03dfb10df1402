import { DATABASE_ENGINES, migratedDatabasePerTest } from '@fathom/testing';
import { ErrorCode, FathomError } from '@fathom/contracts';
import type { Database } from '../database';
import { deploymentId, DeploymentStore, type NewDeployment } from './deployment.store';

const ops = { actor: 'key-ops', traceId: 'trace-1', address: '10.0.0.7' };
const sha = (c: string) => c.repeat(64);

const depth = (version: string, extra: Partial<NewDeployment> = {}): NewDeployment => ({
  name: 'depth',
  version,
  task: 'depth',
  state: 'pulling',
  source: 'upload',
  manifest: { name: 'depth', version, task: 'depth', weights: { store: sha('a') } },
  weights: { '': { sha256: sha('a'), bytes: 0 } },
  ...extra,
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'no error';
  } catch (error) {
    return error instanceof FathomError ? error.code : String(error);
  }
}

describe.each(DATABASE_ENGINES)('the deployments registry, on %s', (_engine, createDatabaseForTest) => {
  let db: Database;
  let store: DeploymentStore;

  const each = migratedDatabasePerTest(createDatabaseForTest);
  beforeEach(() => {
    db = each.db;
    store = new DeploymentStore(db);
  });

  it('registers a version once while it is live, and again once it failed or was retired', async () => {
    const first = await store.create(depth('1.0.0'), ops);
    expect(first).toMatchObject({ name: 'depth', version: '1.0.0', state: 'pulling', revision: 1, createdBy: 'key-ops', reason: null });
    expect(await codeOf(store.create(depth('1.0.0'), ops))).toBe(ErrorCode.DeploymentExists);
    await store.transition(first.id, ['pulling'], 'failed', ops, { reason: 'weights: sha256 mismatch' });
    const second = await store.create(depth('1.0.0'), ops);
    expect(await store.get('depth', '1.0.0')).toMatchObject({ id: second.id, state: 'pulling' });
    expect((await store.versionRows('depth', '1.0.0')).map((r) => r.state)).toEqual(['pulling', 'failed']);
  });

  it('moves a state only from the one expected: of two instances making the same move, one wins', async () => {
    const record = await store.create(depth('1.0.0'), ops);
    await store.transition(record.id, ['pulling'], 'warming', ops, { weights: { '': { sha256: sha('a'), bytes: 10 } } });
    const moves = await Promise.all([
      store.transition(record.id, ['warming'], 'serving', { actor: 'api' }),
      store.transition(record.id, ['warming'], 'serving', { actor: 'api' }),
    ]);
    expect(moves.filter(Boolean)).toHaveLength(1);
    expect(await store.find(record.id)).toMatchObject({ state: 'serving', revision: 3, weights: { '': { bytes: 10 } } });
    expect(await store.transition(record.id, ['warming'], 'failed', { actor: 'api' }, { reason: 'late' })).toBeUndefined();
    const audit = await store.history('depth');
    expect(audit.map((e) => e.action)).toEqual(['deployment.serving', 'deployment.warming', 'deployment.registered']);
    expect(audit.at(-1)).toMatchObject({
      actor: 'key-ops',
      targetType: 'deployment',
      targetId: 'depth@1.0.0',
      traceId: 'trace-1',
      address: '10.0.0.7',
      details: { deploymentId: record.id, state: 'pulling', source: 'upload' },
    });
  });

  it('changes the mutable fields of a live deployment, bumping its revision, and none of a retired one', async () => {
    const record = await store.create(depth('1.0.0'), ops);
    const updated = await store.update('depth', '1.0.0', { replicas: 3, selector: { pool: 'gpu' }, batching: { maxBatch: 4 } }, ops);
    expect(updated).toMatchObject({ replicas: 3, selector: { pool: 'gpu' }, batching: { maxBatch: 4 }, revision: 2, description: null });
    expect((await store.history('depth'))[0]).toMatchObject({
      action: 'deployment.updated',
      details: { change: { replicas: 3 }, revision: 2 },
    });
    await store.transition(record.id, ['pulling'], 'retired', ops);
    expect(await store.find(record.id)).toMatchObject({ retiredAt: expect.any(String) });
    expect(await codeOf(store.update('depth', '1.0.0', { replicas: 1 }, ops))).toBe(ErrorCode.DeploymentNotFound);
    expect(await codeOf(store.get('depth', '9.9.9'))).toBe(ErrorCode.DeploymentNotFound);
  });

  it('registers a worker-declared version as local only when no live or retired row holds it', async () => {
    const local = (version: string) => depth(version, { source: 'local', state: 'warming', manifest: { name: 'depth' }, weights: {} });
    const [a, b] = await Promise.all([store.registerLocal(local('2.0.0')), store.registerLocal(local('2.0.0'))]);
    expect([a, b].filter(Boolean)).toEqual([expect.objectContaining({ source: 'local', createdBy: 'worker' })]);
    // Found, not changed by anyone: no audit entry until someone acts on it.
    expect(await store.history('depth')).toEqual([]);
    await store.transition((a ?? b)!.id, ['warming'], 'retired', ops);
    expect(await store.registerLocal(local('2.0.0'))).toBeUndefined();
    const rest = await store.create(depth('3.0.0'), ops);
    expect(await store.registerLocal(local('3.0.0'))).toBeUndefined();
    await store.transition(rest.id, ['pulling'], 'failed', ops, { reason: 'HTML page' });
    expect(await store.registerLocal(local('3.0.0'))).toMatchObject({ source: 'local' });
  });

  it('lists newest first, by state and by model, and knows which weights are stored', async () => {
    const one = await store.create(depth('1.0.0'), ops);
    const two = await store.create(depth('2.0.0', { weights: { '': { sha256: sha('b'), bytes: 0 } } }), ops);
    await store.create({ ...depth('1.0.0'), name: 'other' }, ops);
    await store.transition(one.id, ['pulling'], 'warming', ops, { weights: { '': { sha256: sha('a'), bytes: 99 } } });
    expect((await store.list({ name: 'depth' })).map((r) => r.version)).toEqual(['2.0.0', '1.0.0']);
    expect((await store.list({ states: ['warming'] })).map((r) => r.id)).toEqual([one.id]);
    // Ended a moment ago: listed with the live ones while the change is recent.
    await store.transition(two.id, ['pulling'], 'failed', ops, { reason: 'HTML page' });
    expect((await store.list({ states: ['warming'], changedWithinMs: 60_000, name: 'depth' })).map((r) => r.id)).toEqual([two.id, one.id]);
    expect((await store.list({ states: ['warming'], changedWithinMs: 0 })).map((r) => r.id)).toEqual([one.id]);
    expect(await store.hasStoredWeights(sha('a'))).toBe(true);
    // Registered, not stored yet (bytes 0), and never seen.
    expect(await store.hasStoredWeights(sha('b'))).toBe(false);
    expect(await store.hasStoredWeights(sha('c'))).toBe(false);
  });
});

describe('deployment ids', () => {
  it('are UUIDv7s that sort in creation order, as workers load deployments in id order', () => {
    const ids = [1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000].map((at) => deploymentId(at));
    expect(ids.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id))).toBe(true);
    expect([...ids].reverse().sort()).toEqual(ids);
  });
});
