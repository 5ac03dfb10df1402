import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { buildDepthStandInModel } from '@fathom/testing';
import { modelManifestSchema, specsFromManifest, type ModelSpec } from '@fathom/models';
import { DEFAULT_PNG_ENCODING } from '../imaging/png-encoding';
import { InferencePool } from './inference.pool';
import type { LoadedModel } from './thread-protocol';

/**
 * Models loaded and unloaded while the pool runs (registered deployments, ADR 0015), on real
 * inference threads with real onnxruntime sessions.
 */
describe('an inference pool loads and unloads models at runtime', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-pool-runtime-'));
  writeFileSync(join(dir, 'plain.onnx'), buildDepthStandInModel());
  writeFileSync(join(dir, 'inverted.onnx'), buildDepthStandInModel({ inverted: true }));
  const spec = (manifest: object): ModelSpec =>
    specsFromManifest(modelManifestSchema.parse({ version: '1.0.0', task: 'depth', ...manifest }), {
      manifestFile: join(dir, 'm.model.json'),
      cacheDir: dir,
    })[0]!;
  const plain = spec({ name: 'plain', weights: 'plain.onnx' });
  const inverted = spec({ name: 'inverted', weights: 'inverted.onnx' });
  const options = { output: 'grayscale', colormap: 'turbo' } as const;
  const init = { intraOpThreads: 1, executionProviders: ['cpu'], maxPixels: 40e6, sharpThreads: 1, png: DEFAULT_PNG_ENCODING };
  let image: Buffer;

  beforeAll(async () => {
    // Dark on the left, bright on the right: the inverted stand-in's depth map is the plain one's mirror image.
    const pixels = Buffer.alloc(56 * 56 * 3);
    for (let i = 0; i < 56 * 56; i++) pixels.fill((i % 56) * 4, i * 3, i * 3 + 3);
    image = await sharp(pixels, { raw: { width: 56, height: 56, channels: 3 } })
      .png()
      .toBuffer();
  });

  /** The depth map's grey level at the left and right edges. */
  const edges = async (pool: InferencePool, key: string) => {
    const output = await pool.run(key, image, options);
    const { data, info } = await sharp(Buffer.from(output.artifacts[0]!.bytes)).greyscale().raw().toBuffer({ resolveWithObject: true });
    return { left: data[info.width * 28]!, right: data[info.width * 28 + info.width - 1]! };
  };

  it('runs jobs of a model loaded after start on every thread, and refuses them once it is unloaded', async () => {
    const loadedEvents: LoadedModel[][] = [];
    const unloaded: string[] = [];
    const pool = new InferencePool({ ...init, models: [plain] }, 2, {
      onModelsLoaded: (models) => loadedEvents.push(models),
      onModelUnloaded: (key) => unloaded.push(key),
    });
    try {
      await pool.start();
      await expect(pool.run('inverted@1.0.0', image, options)).rejects.toMatchObject({ code: 'model_not_served', retryable: true });

      const loaded = await pool.load(inverted);
      expect(loaded).toMatchObject({ key: 'inverted@1.0.0', executionProvider: 'cpu', maxBatch: 1 });
      expect(pool.loadedModels.map((m) => m.key)).toEqual(['plain@1.0.0', 'inverted@1.0.0']);
      expect(loadedEvents.at(-1)).toEqual([loaded]);
      // Enough jobs at once to reach both threads: each answers with the model loaded at runtime.
      const outputs = await Promise.all(Array.from({ length: 6 }, () => pool.run('inverted@1.0.0', image, options)));
      for (const output of outputs) expect([output.width, output.height]).toEqual([56, 56]);
      // Each key runs its own weights: the plain stand-in is bright where the image is, the inverted one dark.
      const [plainMap, invertedMap] = [await edges(pool, 'plain@1.0.0'), await edges(pool, 'inverted@1.0.0')];
      expect(plainMap.right).toBeGreaterThan(plainMap.left);
      expect(invertedMap.left).toBeGreaterThan(invertedMap.right);

      // A job in hand when the unload is asked for finishes; new ones are refused at once.
      const inHand = pool.run('inverted@1.0.0', image, options);
      const unloading = pool.unload('inverted@1.0.0');
      await expect(pool.run('inverted@1.0.0', image, options)).rejects.toMatchObject({
        code: 'model_not_served',
        retryable: true,
        message: expect.stringContaining('Model inverted@1.0.0 is not loaded on this worker'),
      });
      await expect(inHand).resolves.toMatchObject({ width: 56, height: 56 });
      await unloading;
      expect(unloaded).toEqual(['inverted@1.0.0']);
      expect(pool.loadedModels.map((m) => m.key)).toEqual(['plain@1.0.0']);
      await expect(pool.run('plain@1.0.0', image, options)).resolves.toMatchObject({ width: 56 });

      // Unloaded, it can be loaded again (a deployment whose manifest changed).
      await pool.load(inverted);
      await expect(pool.run('inverted@1.0.0', image, options)).resolves.toMatchObject({ width: 56 });
    } finally {
      await pool.close();
    }
  });

  it('loads all or nothing: a model that fails its checks is refused with the reason, and what was served still is', async () => {
    const pool = new InferencePool({ ...init, models: [plain] }, 2);
    try {
      await pool.start();
      const wrongInput = spec({ name: 'wrong-input', weights: 'plain.onnx', input: { name: 'image' } });
      await expect(pool.load(wrongInput)).rejects.toThrow(
        `${join(dir, 'm.model.json')}: input.name: "image" is not an input of this model (inputs: pixel_values)`,
      );
      // A wrong layout fails the warm-up inference, named with the tensor and the shape it was given.
      const wrongLayout = spec({ name: 'wrong-layout', weights: 'plain.onnx', input: { layout: 'NHWC' } });
      await expect(pool.load(wrongLayout)).rejects.toThrow(/the warm-up inference failed with input pixel_values \[1,\d+,\d+,3\]/);
      expect(pool.loadedModels.map((m) => m.key)).toEqual(['plain@1.0.0']);
      await expect(pool.run('wrong-input@1.0.0', image, options)).rejects.toMatchObject({ code: 'model_not_served' });
      // Nothing of the failed load stays on any thread: the same key loads once fixed.
      await pool.load(spec({ name: 'wrong-input', weights: 'plain.onnx' }));
      await expect(pool.run('wrong-input@1.0.0', image, options)).resolves.toMatchObject({ width: 56 });
      await expect(pool.run('plain@1.0.0', image, options)).resolves.toMatchObject({ width: 56 });
    } finally {
      await pool.close();
    }
  });

  it('loads on every thread or none: a thread lost during the load fails it, the others unload it, and it loads again later', async () => {
    const pool = new InferencePool({ ...init, models: [plain] }, 2);
    try {
      await pool.start();
      const loading = pool.load(inverted);
      // One of the two threads dies while it loads (between native calls: terminating it inside one would abort the process).
      await (pool as unknown as { slots: Array<{ thread: Worker }> }).slots[0]!.thread.terminate();
      await expect(loading).rejects.toThrow('the inference thread exited (code 1) while loading or unloading');
      expect(pool.serves('inverted@1.0.0')).toBe(false);
      await expect(pool.run('inverted@1.0.0', image, options)).rejects.toMatchObject({ code: 'model_not_served' });
      // Nothing of it stayed on the surviving thread: loading it again works, on both threads once the replacement is up.
      await pool.load(inverted);
      const outputs = await Promise.all(Array.from({ length: 4 }, () => pool.run('inverted@1.0.0', image, options)));
      for (const output of outputs) expect(output.width).toBe(56);
    } finally {
      await pool.close();
    }
  });

  it('starts a replacement thread with the models served now, not those it started with', async () => {
    let onReady: ((keys: string[]) => void) | undefined;
    const pool = new InferencePool({ ...init, models: [plain, inverted] }, 1, {
      onModelsLoaded: (models) => onReady?.(models.map((m) => m.key)),
    });
    try {
      await pool.start();
      await pool.unload('plain@1.0.0');
      await pool.load(spec({ name: 'late', weights: 'plain.onnx' }));
      const replaced = new Promise<string[]>((resolve) => (onReady = resolve));
      // A thread that dies of an uncaught error exits like this; the pool starts another.
      await (pool as unknown as { slots: Array<{ thread: Worker }> }).slots[0]!.thread.terminate();
      expect((await replaced).sort()).toEqual(['inverted@1.0.0', 'late@1.0.0']);
      await expect(pool.run('late@1.0.0', image, options)).resolves.toMatchObject({ width: 56 });
      await expect(pool.run('plain@1.0.0', image, options)).rejects.toMatchObject({ code: 'model_not_served' });
    } finally {
      await pool.close();
    }
  });
});
