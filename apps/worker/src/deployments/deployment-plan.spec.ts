import type { DesiredDeployment } from '@fathom/contracts';
import { deploymentFingerprint, deploymentMemoryBytes, planDeployments, SESSION_BYTES_PER_WEIGHTS_BYTE } from './deployment-plan';

const MB = 1024 * 1024;
const sha = (c: string) => c.repeat(64);

function deployment(id: string, over: Partial<DesiredDeployment> = {}): DesiredDeployment {
  return {
    id,
    name: `model-${id}`,
    version: '1.0.0',
    task: 'depth',
    state: 'warming',
    source: 'upload',
    manifest: { name: `model-${id}`, version: '1.0.0', task: 'depth', weights: { store: sha('a') } },
    weights: { '': { sha256: sha('a'), bytes: 10 * MB } },
    selector: {},
    revision: 1,
    ...over,
  };
}

describe('which deployments a worker loads', () => {
  const labels = { gpu: 'a100', pool: 'depth' };
  const plan = (entries: DesiredDeployment[], budgetMb = 0, threads = 1) =>
    planDeployments(entries, { labels, budgetBytes: budgetMb * MB, threads });

  it('loads those in a loaded state whose selector its labels match, in creation (id) order', () => {
    const result = plan([
      deployment('03', { selector: { gpu: 'a100' } }),
      deployment('01', { state: 'serving' }),
      deployment('02', { state: 'retiring', selector: labels }),
      deployment('04', { selector: { gpu: 't4' } }),
      deployment('05', { state: 'pending' }),
      deployment('06', { state: 'pulling' }),
      deployment('07', { state: 'failed' }),
      deployment('08', { state: 'retired' }),
      deployment('09', { source: 'local' }),
      deployment('10', { source: 'url', selector: { pool: 'depth', zone: 'eu' } }),
    ]);
    expect(result.load.map((d) => d.id)).toEqual(['01', '02', '03']);
    expect(result.skipped).toEqual([]);
  });

  it('skips, with the numbers, those past the memory budget; earlier ones keep their place', () => {
    const need = 10 * 2 * SESSION_BYTES_PER_WEIGHTS_BYTE; // MB: 10 MB of weights on 2 threads
    const result = plan(
      [deployment('01'), deployment('02'), deployment('03', { weights: { '': { sha256: sha('b'), bytes: MB } } })],
      need + 10,
      2,
    );
    expect(result.load.map((d) => d.id)).toEqual(['01', '03']);
    expect(result.skipped).toEqual([
      {
        deployment: expect.objectContaining({ id: '02' }),
        reason: `needs about ${need.toFixed(1)} MB (10.0 MB of weights × 2 inference thread(s) × ${SESSION_BYTES_PER_WEIGHTS_BYTE}), but only 10.0 MB of WORKER_MEMORY_BUDGET_MB=${need + 10} is left (${need.toFixed(1)} MB taken by deployments created before it)`,
      },
    ]);
  });

  it('counts every variant’s weights, on every thread', () => {
    const d = deployment('01', { weights: { '': { sha256: sha('a'), bytes: 100 }, night: { sha256: sha('b'), bytes: 50 } } });
    expect(deploymentMemoryBytes(d, 4)).toBe(150 * 4 * SESSION_BYTES_PER_WEIGHTS_BYTE);
  });

  it('leaves out one that failed here until it changes', () => {
    const broken = deployment('01');
    const failed = (d: DesiredDeployment) => d.id === '01' && deploymentFingerprint(d) === deploymentFingerprint(broken);
    expect(planDeployments([broken], { labels, budgetBytes: 0, threads: 1, failed }).load).toEqual([]);
    const fixed = deployment('01', { weights: { '': { sha256: sha('c'), bytes: 1 } }, revision: 2 });
    expect(planDeployments([fixed], { labels, budgetBytes: 0, threads: 1, failed }).load).toEqual([fixed]);
  });

  it('reloads for a new manifest or weights, not for a new state or selector', () => {
    const d = deployment('01');
    const moved: DesiredDeployment = { ...d, state: 'serving', selector: { gpu: 'a100' }, revision: 2 };
    expect(deploymentFingerprint(moved)).toBe(deploymentFingerprint(d));
    expect(deploymentFingerprint({ ...d, manifest: { ...d.manifest, batching: { maxBatch: 4 } } })).not.toBe(deploymentFingerprint(d));
  });

  it('stops serving a local model the registry retired, failed, or replaced with a registered one', () => {
    const local = (name: string, state: DesiredDeployment['state']) => deployment(name, { name, source: 'local', state });
    const result = plan([
      local('tombstone', 'retired'),
      local('broken', 'failed'),
      local('draining', 'retiring'),
      local('kept', 'serving'),
      deployment('20', { name: 'replaced', state: 'warming', selector: { gpu: 't4' } }),
      deployment('21', { name: 'not-yet', state: 'pulling' }),
    ]);
    expect([...result.blockedLocal].sort()).toEqual(['broken@1.0.0', 'replaced@1.0.0', 'tombstone@1.0.0']);
  });
});
