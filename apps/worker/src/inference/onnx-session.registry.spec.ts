import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { modelManifestSchema, specsFromManifest, type ModelSpec } from '@fathom/models';
import { buildDepthStandInModel } from '@fathom/testing';
import type { LoadedModel } from './thread-protocol';

function depthSpec(name: string, model: Buffer, manifest: object = {}): ModelSpec {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-registry-'));
  writeFileSync(join(dir, `${name}.onnx`), model);
  return specsFromManifest(
    modelManifestSchema.parse({
      name,
      version: '1.0.0',
      task: 'depth',
      weights: `${name}.onnx`,
      input: { resize: { mode: 'fixed', width: 28, height: 28 } },
      ...manifest,
    }),
    { manifestFile: join(dir, `${name}.model.json`), cacheDir: dir },
  )[0]!;
}

/**
 * OnnxSessionRegistry.load on a plain thread, as an inference thread runs it (jest's sandbox realm
 * trips onnxruntime's Float32Array checks): what it loaded, or the message it stopped with.
 */
async function load(models: ModelSpec[], executionProviders: string[]): Promise<{ loaded?: LoadedModel[]; error?: string }> {
  const thread = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const { OnnxSessionRegistry } = require(workerData.registry);
     OnnxSessionRegistry.load(workerData.models, { executionProviders: workerData.executionProviders, intraOpThreads: 1 }).then(
       (registry) => parentPort.postMessage({ loaded: registry.loaded, found: workerData.models.every((m) => registry.get(m.name + '@' + m.version)) }),
       (error) => parentPort.postMessage({ error: error.message }),
     );`,
    { eval: true, workerData: { registry: join(__dirname, 'onnx-session.registry.js'), models, executionProviders } },
  );
  try {
    return await new Promise((resolve, reject) => {
      thread.once('message', resolve);
      thread.once('error', reject);
    });
  } finally {
    await thread.terminate();
  }
}

const ortBin = join(dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
const cpuInstall = !existsSync(join(ortBin, 'libonnxruntime_providers_cuda.so'));
if (!cpuInstall) console.log(`skipped: onnxruntime-node here has its CUDA provider (${ortBin}), so asking for it does not fall back`);

describe('OnnxSessionRegistry', () => {
  it('creates one warmed session per model, with its batching as the model allows it', async () => {
    const result = await load(
      [
        depthSpec('batched', buildDepthStandInModel(), { batching: { maxBatch: 4, maxDelayMs: 5 } }),
        depthSpec('fixed', buildDepthStandInModel({ batch: 1 }), { batching: { maxBatch: 4, maxDelayMs: 5 } }),
      ],
      ['cpu'],
    );
    expect(result.error).toBeUndefined();
    expect(result.loaded).toEqual([
      expect.objectContaining({ key: 'batched@1.0.0', executionProvider: 'cpu', maxBatch: 4, batchingOff: undefined }),
      expect.objectContaining({
        key: 'fixed@1.0.0',
        executionProvider: 'cpu',
        maxBatch: 1,
        batchingOff: 'batching.maxBatch: 4 asked for, but input pixel_values has a fixed batch axis; jobs run back to back',
      }),
    ]);
    expect(result).toMatchObject({ found: true });
  });

  (cpuInstall ? it : it.skip)('falls back along the provider list, naming each provider passed over (CPU install only)', async () => {
    const result = await load([depthSpec('depth', buildDepthStandInModel())], ['cuda']);
    expect(result.loaded).toEqual([
      expect.objectContaining({ executionProvider: 'cpu', fallbackFrom: expect.stringMatching(/^cuda: .+/) }),
    ]);
  });

  it('stops at the first model whose manifest does not describe it, naming the manifest and the field', async () => {
    const wrong = depthSpec('wrong', buildDepthStandInModel(), {
      input: { name: 'images', resize: { mode: 'fixed', width: 28, height: 28 } },
    });
    const result = await load([wrong], ['cpu']);
    expect(result.error).toBe(`${wrong.manifestFile}: input.name: "images" is not an input of this model (inputs: pixel_values)`);
  });
});
