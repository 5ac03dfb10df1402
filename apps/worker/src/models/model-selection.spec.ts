import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCatalog, specKey } from '@fathom/models';
import { selectModels } from './model-selection';

describe('which models a worker serves', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'fathom-empty-cache-'));
  const builtins = loadCatalog({ builtin: true, cacheDir });

  it('serves the offline built-ins and lists the depth model, not pulled yet, as unavailable with the command that fetches it', () => {
    const { serve, unavailable } = selectModels(builtins, undefined);
    expect(serve.map(specKey)).toEqual(['ppocr-mobile-v2-cls@2.0.0', 'ppocr-v4-det@4.0.0']);
    expect(unavailable.map((u) => u.reason)).toEqual([
      'depth-anything-v2-small@2.0.0-int8 is not downloaded yet: npm run models -- pull depth-anything-v2-small@2.0.0-int8',
      'depth-anything-v2-small@2.0.0 is not downloaded yet: npm run models -- pull depth-anything-v2-small@2.0.0',
    ]);
  });

  it('filters by WORKER_MODELS (name or name@version) and names what it cannot find', () => {
    expect(selectModels(builtins, ['ppocr-v4-det']).serve.map(specKey)).toEqual(['ppocr-v4-det@4.0.0']);
    expect(() => selectModels(builtins, ['nope'])).toThrow(
      /WORKER_MODELS names nope, not found among: depth-anything-v2-small, ppocr-mobile-v2-cls, ppocr-v4-det/,
    );
  });

  it('refuses to start when WORKER_MODELS asks for a model that is not pulled, or a manifest names a missing file', () => {
    expect(() => selectModels(builtins, ['depth-anything-v2-small@2.0.0-int8'])).toThrow(
      /not downloaded yet: npm run models -- pull depth-anything-v2-small@2\.0\.0-int8/,
    );
    const dir = mkdtempSync(join(tmpdir(), 'fathom-models-'));
    writeFileSync(join(dir, 'w.model.json'), JSON.stringify({ name: 'w', version: '1', task: 'depth', weights: 'gone.onnx' }));
    expect(() => selectModels(loadCatalog({ builtin: false, modelsDir: dir, cacheDir }), undefined)).toThrow(
      /w\.model\.json: weights: .*gone\.onnx does not exist/,
    );
  });
});
