import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildClassificationStandInModel,
  buildDepthStandInModel,
  hasShared,
  readFixture,
  repoRoot,
  spawnNodeProcess,
  startRedisServer,
  type RedisServerHandle,
} from '@fathom/testing';

const LFS_FIXTURE = ['models', 'broken', 'git_lfs_pointer_depth_anything_v2_vits.onnx'];
const HTML_FIXTURE = ['models', 'broken', 'html_page_saved_as_mobilenetv2-7.onnx'];
const GENERATED_POINTER = `version https://git-lfs.github.com/spec/v1\noid sha256:${'ab'.repeat(32)}\nsize 99123456\n`;

/** What an operator sees when a worker cannot start: it exits 1 and says which file and why. */
describe('a worker refuses to start on a bad model, naming the file and the reason', () => {
  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis.stop());

  async function startWorkerWith(files: Record<string, string | Buffer>): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'fathom-bad-models-'));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    const worker = spawnNodeProcess(join(repoRoot(), 'dist/apps/worker/src/main.js'), {
      REDIS_URL: redis.url,
      MODELS_DIR: dir,
      MODELS_CACHE_DIR: dir,
      WORKER_BUILTIN_MODELS: 'false',
      WORKER_METRICS_PORT: '0',
    });
    const exit = await worker.waitForExit(30_000);
    expect(exit.code).toBe(1);
    return worker.output();
  }

  it('a manifest with a wrong field', async () => {
    const output = await startWorkerWith({
      'depth.model.yaml': 'name: depth\nversion: "1"\ntask: depth\nweights: d.onnx\ninput: { layout: CHW }\n',
    });
    expect(output).toMatch(/fathom-worker: .*depth\.model\.yaml: input\.layout: /);
  });

  it.each([
    [
      'an input name the model does not have',
      'input: { name: image }',
      /depth\.model\.yaml: input\.name: "image" is not an input of this model \(inputs: pixel_values\)/,
    ],
    [
      'an output name the model does not have',
      'output: { name: depth }',
      /depth\.model\.yaml: output\.name: "depth" is not an output of this model \(outputs: predicted_depth\)/,
    ],
    [
      'an NHWC layout for an NCHW model',
      'input: { layout: NHWC, resize: { mode: fixed, width: 28, height: 28 } }',
      /depth\.model\.yaml: the warm-up inference failed with input pixel_values \[1,28,28,3\]/,
    ],
  ])('a manifest that does not describe its model: %s', async (_what, field, message) => {
    const output = await startWorkerWith({
      'd.onnx': buildDepthStandInModel(),
      'depth.model.yaml': `name: depth\nversion: "1"\ntask: depth\nweights: d.onnx\n${field}\n`,
    });
    expect(output).toMatch(message);
    expect(output).not.toMatch(/^\s+at /m); // a sentence, not a stack trace
  });

  it('labels that do not match the classes the model outputs', async () => {
    const manifest =
      'name: colours\nversion: "1"\ntask: classification\nweights: c.onnx\ninput: { resize: { mode: fixed, width: 8, height: 8 } }\nlabels: [red, green]\n';
    const output = await startWorkerWith({ 'c.onnx': buildClassificationStandInModel(), 'colours.model.yaml': manifest });
    expect(output).toMatch(/colours\.model\.yaml: labels: 2 names for a model with 3 classes/);
  });

  const weightsCases: Array<[string, Buffer | string | null, RegExp]> = [
    ['a generated Git LFS pointer', GENERATED_POINTER, /this is a Git LFS pointer, not a model/],
    [
      'the real Git LFS pointer from ../shared',
      hasShared(...LFS_FIXTURE) ? readFixture(...LFS_FIXTURE) : null,
      /this is a Git LFS pointer, not a model/,
    ],
    [
      'the real HTML page saved as .onnx from ../shared',
      hasShared(...HTML_FIXTURE) ? readFixture(...HTML_FIXTURE) : null,
      /this is an HTML page, not a model/,
    ],
  ];
  for (const [what, weights, message] of weightsCases) {
    if (weights === null) console.warn(`skipping "weights that are ${what}": ../shared/models/broken is absent`);
    (weights === null ? it.skip : it)(`weights that are ${what}`, async () => {
      const output = await startWorkerWith({
        'depth.onnx': weights!,
        'depth.model.json': JSON.stringify({ name: 'depth', version: '1.0.0', task: 'depth', weights: 'depth.onnx' }),
      });
      expect(output).toMatch(/fathom-worker: .*depth\.model\.json: weights .*depth\.onnx: /);
      expect(output).toMatch(message);
    });
  }
});
