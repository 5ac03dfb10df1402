import { join } from 'node:path';
import type { DesiredDeployment } from '@fathom/contracts';
import { missingWeights, specsFromDeployment, storedWeightsPath } from './model-catalog';

describe('a registered deployment as model specs', () => {
  const base = 'a'.repeat(64);
  const night = 'b'.repeat(64);
  const deployment: DesiredDeployment = {
    id: 'dep-1',
    name: 'regions',
    version: '2.0.0',
    task: 'segmentation',
    state: 'warming',
    source: 'upload',
    manifest: {
      name: 'regions',
      version: '2.0.0',
      task: 'segmentation',
      weights: { store: base },
      input: { resize: { mode: 'fixed', width: 64, height: 64 } },
      labels: ['background', 'bright'],
      batching: { maxBatch: 4 },
      variants: { night: { weights: { store: night }, description: 'after dark' } },
    },
    weights: { '': { sha256: base, bytes: 1000 }, night: { sha256: night, bytes: 2000 } },
    selector: {},
    revision: 3,
  };

  it('points each version and variant at its content-addressed file in the cache, with the manifest’s contract', () => {
    const [version, variant] = specsFromDeployment(deployment, '/cache');
    expect(version).toMatchObject({
      name: 'regions',
      version: '2.0.0',
      task: 'segmentation',
      weights: join('/cache', 'store', `${base}.onnx`),
      source: { kind: 'store', sha256: base, bytes: 1000, path: storedWeightsPath('/cache', base) },
      labels: ['background', 'bright'],
      batching: { maxBatch: 4, maxDelayMs: 5 },
      input: { resize: { mode: 'fixed', width: 64, height: 64 } },
      manifestFile: 'deployment dep-1 (regions@2.0.0)',
    });
    expect(variant).toMatchObject({ variant: 'night', description: 'after dark', source: { kind: 'store', sha256: night, bytes: 2000 } });
    expect(missingWeights(version!)).toBe(`regions@2.0.0: weights ${base} are not fetched from the object store yet`);
  });

  it('refuses a manifest the mirror should never hold, naming the deployment and the field', () => {
    const bad = (manifest: Record<string, unknown>) => () => specsFromDeployment({ ...deployment, manifest }, '/cache');
    expect(bad({ ...deployment.manifest, weights: 'model.onnx' })).toThrow(
      'deployment dep-1 (regions@2.0.0): weights: expected { store: <sha256> }, got "model.onnx"',
    );
    expect(bad({ ...deployment.manifest, weights: { store: 'c'.repeat(64) } })).toThrow(
      `deployment dep-1 (regions@2.0.0): weights: ${'c'.repeat(64)} is not among the deployment's stored weights`,
    );
    expect(bad({ ...deployment.manifest, labels: { file: 'labels.txt' } })).toThrow(/labels: expected the class names inline/);
    expect(bad({ ...deployment.manifest, version: '9.9.9' })).toThrow(
      'deployment dep-1 (regions@2.0.0): the manifest says regions@9.9.9 (segmentation), the deployment regions@2.0.0 (segmentation)',
    );
    expect(bad({ ...deployment.manifest, input: { layout: 'CHW' } })).toThrow(/deployment dep-1 \(regions@2.0.0\): input.layout/);
  });
});
