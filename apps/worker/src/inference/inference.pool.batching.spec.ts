import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { parseTaskOptions } from '@fathom/contracts';
import { modelManifestSchema, specKey, specsFromManifest, type ModelSpec } from '@fathom/models';
import { buildDepthStandInModel } from '@fathom/testing';
import { InferencePool } from './inference.pool';
import type { RunOutput } from './thread-protocol';
import { DEFAULT_PNG_ENCODING } from '../imaging/png-encoding';

/** A depth model (the stand-in: mean of the channels) with the manifest's batching, small inputs. */
function depthSpec(name: string, batching: object | undefined, model = buildDepthStandInModel()): ModelSpec {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-batching-'));
  writeFileSync(join(dir, `${name}.onnx`), model);
  const manifest = {
    name,
    version: '1.0.0',
    task: 'depth',
    weights: `${name}.onnx`,
    input: { resize: { mode: 'keep-aspect', multiple: 14, target: 28, fit: 'lower-bound', maxSide: 112 } },
    ...(batching ? { batching } : {}),
  };
  return specsFromManifest(modelManifestSchema.parse(manifest), { manifestFile: join(dir, `${name}.model.json`), cacheDir: dir })[0]!;
}

const image = (width: number, height: number, shade: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: shade, g: 255 - shade, b: (shade * 7) % 256 } } })
    .composite([
      {
        input: { create: { width: Math.ceil(width / 2), height: Math.ceil(height / 2), channels: 3, background: '#ffffff' } },
        left: 0,
        top: 0,
      },
    ])
    .png()
    .toBuffer();

async function startPool(spec: ModelSpec, batches: number[]): Promise<InferencePool> {
  const pool = new InferencePool(
    {
      models: [spec],
      intraOpThreads: 1,
      sharpThreads: 1,
      executionProviders: ['cpu'],
      maxPixels: 40e6,
      png: DEFAULT_PNG_ENCODING,
    },
    1,
    {
      onBatch: (_key, size) => batches.push(size),
    },
  );
  await pool.start();
  return pool;
}

describe('micro-batching: jobs of one model and input shape share a session.run', () => {
  const pools: InferencePool[] = [];
  afterAll(() => Promise.all(pools.map((p) => p.close())));

  const runAll = (pool: InferencePool, spec: ModelSpec, images: Buffer[], stageBatches: number[] = []) =>
    Promise.all(
      images.map((bytes) =>
        pool.run(specKey(spec), new Uint8Array(bytes), parseTaskOptions('depth', undefined), {
          enter: (stage, _at, detail) => {
            if (stage === 'inference') stageBatches.push(detail?.batchSize ?? 0);
          },
          pause: () => undefined,
        }),
      ),
    );

  it('gathers up to maxBatch same-shaped jobs, and each gets the result it would get alone', async () => {
    const images = await Promise.all(Array.from({ length: 8 }, (_, i) => image(64, 48, i * 30)));
    // The longest wait a manifest allows: batches fill as jobs become ready, not in a race with the timer.
    const batched = depthSpec('batched', { maxBatch: 4, maxDelayMs: 1000 });
    const single = depthSpec('single', undefined);
    const batchSizes: number[] = [];
    const singleSizes: number[] = [];
    const batchedPool = await startPool(batched, batchSizes);
    const singlePool = await startPool(single, singleSizes);
    pools.push(batchedPool, singlePool);
    expect(batchedPool.loadedModels[0]).toMatchObject({ maxBatch: 4 });
    expect(batchedPool.loadedModels[0]?.batchingOff).toBeUndefined();

    const stageBatches: number[] = [];
    const together = await runAll(batchedPool, batched, images, stageBatches);
    const alone: RunOutput[] = [];
    for (const bytes of images) alone.push(...(await runAll(singlePool, single, [bytes])));

    expect(batchSizes.reduce((a, b) => a + b, 0)).toBe(8);
    expect(Math.max(...batchSizes)).toBe(4);
    expect(batchSizes.every((size) => size <= 4)).toBe(true);
    expect(singleSizes).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    // Every job heard the size of the batch it ran in (for its trace).
    expect(stageBatches.sort()).toEqual(batchSizes.flatMap((size) => Array<number>(size).fill(size)).sort());
    // The depth map each user downloads is the same, batched or not.
    for (let i = 0; i < images.length; i++) {
      const mine = together[i]!.artifacts.find((a) => a.name === 'depth')!;
      const reference = alone[i]!.artifacts.find((a) => a.name === 'depth')!;
      expect(Buffer.from(mine.bytes).equals(Buffer.from(reference.bytes))).toBe(true);
    }
    const distinct = new Set(together.map((o) => Buffer.from(o.artifacts.find((a) => a.name === 'depth')!.bytes).toString('base64')));
    expect(distinct.size).toBe(8);
  });

  it('never stacks images whose resized shapes differ: landscape and portrait run in separate batches', async () => {
    // Neither group fills: each runs once its first job has waited maxDelayMs, by then long ready (the longest a manifest allows).
    const spec = depthSpec('shapes', { maxBatch: 8, maxDelayMs: 1000 });
    const batchSizes: number[] = [];
    const pool = await startPool(spec, batchSizes);
    pools.push(pool);
    const landscape = await Promise.all([0, 1, 2].map((i) => image(64, 48, i * 40)));
    const portrait = await Promise.all([0, 1].map((i) => image(48, 64, i * 40)));
    const outputs = await runAll(pool, spec, [...landscape, portrait[0]!, ...portrait.slice(1)]);
    expect(batchSizes.sort()).toEqual([2, 3]);
    expect(outputs.map((o) => `${o.width}×${o.height}`)).toEqual(['64×48', '64×48', '64×48', '48×64', '48×64']);
  });

  it('runs jobs back to back, and says why, when the model has a fixed batch axis', async () => {
    const spec = depthSpec('fixed', { maxBatch: 4, maxDelayMs: 50 }, buildDepthStandInModel({ batch: 1 }));
    const batchSizes: number[] = [];
    const pool = await startPool(spec, batchSizes);
    pools.push(pool);
    expect(pool.loadedModels[0]).toMatchObject({
      maxBatch: 1,
      batchingOff: expect.stringMatching(
        /maxBatch: 4 asked for, but input pixel_values has a fixed batch axis; jobs run back to back/,
      ) as unknown,
    });
    const outputs = await runAll(pool, spec, await Promise.all([0, 1, 2].map((i) => image(64, 48, i * 40))));
    expect(outputs).toHaveLength(3);
    expect(batchSizes).toEqual([1, 1, 1]);
  });
});

describe('pipelining: a thread takes the next job before the current one is done', () => {
  it('starts decoding the second image before the first reaches inference', async () => {
    const spec = depthSpec('pipelined', undefined);
    const pool = await startPool(spec, []);
    try {
      const large = await sharp({
        create: { width: 2400, height: 1800, channels: 3, background: '#406080', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
      })
        .jpeg()
        .toBuffer();
      const small = await image(64, 48, 90);
      const seen: string[] = [];
      const run = (name: string, bytes: Buffer) =>
        pool.run(specKey(spec), new Uint8Array(bytes), parseTaskOptions('depth', undefined), {
          enter: (stage) => seen.push(`${name} ${stage}`),
          pause: () => undefined,
        });
      await Promise.all([run('first', large), run('second', small)]);
      expect(seen.indexOf('second decode')).toBeGreaterThanOrEqual(0);
      expect(seen.indexOf('second decode')).toBeLessThan(seen.indexOf('first inference'));
    } finally {
      await pool.close();
    }
  });
});
