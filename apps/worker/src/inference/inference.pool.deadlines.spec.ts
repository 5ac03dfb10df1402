import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { buildHangingDepthModel } from '@fathom/testing';
import { modelManifestSchema, specsFromManifest } from '@fathom/models';
import { DEFAULT_PNG_ENCODING } from '../imaging/png-encoding';
import { InferencePool, StageTimeoutError, type PoolEvents } from './inference.pool';

describe('a stage past its limit, as a user reads it', () => {
  it('fails inference_timeout, retryable, naming the stage, the limit and the variable that sets it', () => {
    const error = new StageTimeoutError('postprocess', 250);
    expect(error).toMatchObject({ code: 'inference_timeout', retryable: true, stage: 'postprocess', limitMs: 250 });
    expect(error.message).toBe(
      'The postprocess stage ran past its limit of 250 ms (WORKER_ENCODE_TIMEOUT_MS); the inference thread was replaced.',
    );
  });
});

/**
 * A white image keeps the hanging stand-in's session.run in native code for about a second or two
 * (a dark one answers at once): far past the 300 ms limit, short enough to see the thread come back.
 */
const ITERATIONS_PER_UNIT = 5e5;
const INFERENCE_LIMIT_MS = 300;

describe('a job whose inference outlasts its limit, on a thread nothing can interrupt', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-deadline-'));
  writeFileSync(join(dir, 'hang.onnx'), buildHangingDepthModel({ iterationsPerUnit: ITERATIONS_PER_UNIT }));
  const [spec] = specsFromManifest(
    modelManifestSchema.parse({
      name: 'hang',
      version: '1.0.0',
      task: 'depth',
      weights: 'hang.onnx',
      input: { resize: { mode: 'fixed', width: 28, height: 28 } },
    }),
    { manifestFile: join(dir, 'hang.model.json'), cacheDir: dir },
  );
  const options = { output: 'grayscale', colormap: 'turbo' } as const;
  const solid = (background: string) =>
    sharp({ create: { width: 28, height: 28, channels: 3, background } })
      .png()
      .toBuffer();

  it('fails the job inference_timeout, runs the job queued behind it on a new thread, and the old thread leaves on its own once its run returns', async () => {
    const hung: Parameters<NonNullable<PoolEvents['onThreadHung']>>[0][] = [];
    const tooMany: number[] = [];
    let oldThreadLeft!: (seconds: number) => void;
    const left = new Promise<number>((resolve) => (oldThreadLeft = resolve));
    const pool = new InferencePool(
      { models: [spec!], intraOpThreads: 1, executionProviders: ['cpu'], maxPixels: 40e6, sharpThreads: 1, png: DEFAULT_PNG_ENCODING },
      1,
      { onThreadHung: (event) => hung.push(event), onTooManyHung: (count) => tooMany.push(count), onHungThreadExit: oldThreadLeft },
      { stages: { decode: 60_000, inference: INFERENCE_LIMIT_MS, encode: 60_000 }, maxHungThreads: 0 },
    );
    try {
      await pool.start();
      const [white, dark] = await Promise.all([solid('#ffffff'), solid('#101010')]);
      // One thread holds both: the white job's run blocks it, the dark one waits behind it.
      const stuck = pool.run('hang@1.0.0', white, options);
      const behind = pool.run('hang@1.0.0', dark, options);
      await expect(stuck).rejects.toMatchObject({
        code: 'inference_timeout',
        retryable: true,
        stage: 'inference',
        limitMs: INFERENCE_LIMIT_MS,
      });
      expect(hung).toEqual([{ stage: 'inference', limitMs: INFERENCE_LIMIT_MS, hung: 1 }]);
      // Past WORKER_MAX_HUNG_THREADS (0 here), the owner is told to restart the process.
      expect(tooMany).toEqual([1]);

      // Not failed with it: handed to the new thread, and answered pixel for pixel.
      const output = await behind;
      expect([output.width, output.height]).toEqual([28, 28]);

      // The retired thread was never terminated (that would abort this process once its run
      // returned): it leaves by itself, and this process is still here to see it.
      expect(await left).toBeGreaterThan(0);
      expect(pool.hungThreads).toBe(0);
      await expect(pool.run('hang@1.0.0', dark, options)).resolves.toMatchObject({ width: 28, height: 28 });
    } finally {
      await pool.close();
    }
  });

  it('does not count against a job the time its thread spends in another job’s run', async () => {
    const pool = new InferencePool(
      { models: [spec!], intraOpThreads: 1, executionProviders: ['cpu'], maxPixels: 40e6, sharpThreads: 1, png: DEFAULT_PNG_ENCODING },
      1,
      {},
      { stages: { decode: 500, inference: 60_000, encode: 60_000 } },
    );
    try {
      await pool.start();
      // The larger image (tens of ms to decode) is decoded on libuv while the white one's run (a
      // second or two) holds the thread: its decode ends in time, but the thread takes it up only
      // once the run returns, past the decode limit.
      const [white, large] = await Promise.all([
        solid('#ffffff'),
        sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#101010' } })
          .png()
          .toBuffer(),
      ]);
      const outputs = await Promise.all([pool.run('hang@1.0.0', white, options), pool.run('hang@1.0.0', large, options)]);
      expect(outputs.map((o) => [o.width, o.height])).toEqual([
        [28, 28],
        [2000, 2000],
      ]);
      expect(pool.hungThreads).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('closes at once with a thread still hung, leaving it to end on its own', async () => {
    let oldThreadLeft!: () => void;
    const left = new Promise<void>((resolve) => (oldThreadLeft = resolve));
    const pool = new InferencePool(
      { models: [spec!], intraOpThreads: 1, executionProviders: ['cpu'], maxPixels: 40e6, sharpThreads: 1, png: DEFAULT_PNG_ENCODING },
      1,
      { onHungThreadExit: oldThreadLeft },
      { stages: { decode: 60_000, inference: INFERENCE_LIMIT_MS, encode: 60_000 } },
    );
    await pool.start();
    await expect(pool.run('hang@1.0.0', await solid('#ffffff'), options)).rejects.toMatchObject({ code: 'inference_timeout' });
    await pool.close();
    // close() resolved while the retired thread was still inside its run (main.ts exits by SIGKILL then).
    expect(pool.hungThreads).toBe(1);
    await left;
    expect(pool.hungThreads).toBe(0);
  });
});
