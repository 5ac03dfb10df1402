import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { buildDepthStandInModel } from '@fathom/testing';
import { modelManifestSchema, specsFromManifest } from '@fathom/models';
import { InferencePool } from './inference.pool';
import { DEFAULT_PNG_ENCODING } from '../imaging/png-encoding';

describe('the inference pool admits jobs by the pixels they decode, not only by their count', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-admission-'));
  writeFileSync(join(dir, 'tiny.onnx'), buildDepthStandInModel());
  const [spec] = specsFromManifest(
    modelManifestSchema.parse({
      name: 'tiny',
      version: '1.0.0',
      task: 'depth',
      weights: 'tiny.onnx',
      input: { resize: { mode: 'fixed', width: 28, height: 28 } },
    }),
    { manifestFile: join(dir, 'tiny.model.json'), cacheDir: dir },
  );
  const BUDGET = 100;
  let pool: InferencePool;
  let image: Buffer;

  beforeAll(async () => {
    // Two threads holding two jobs each: four by count, so the budget is what holds jobs back.
    pool = new InferencePool(
      { models: [spec!], intraOpThreads: 1, executionProviders: ['cpu'], maxPixels: 40e6, sharpThreads: 1, png: DEFAULT_PNG_ENCODING },
      2,
      {},
      { decodeBudgetPixels: BUDGET },
    );
    await pool.start();
    image = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#405060' } })
      .png()
      .toBuffer();
  });
  afterAll(() => pool.close());

  it('never holds more than the budget, runs an image larger than the whole budget alone, and finishes every job, handed over in order of arrival', async () => {
    // The pool trusts the caller's size (the API's header read): these are nominal pixel counts.
    const sizes = [60, 30, 50, 150, 10, 40, 20];
    const held: Array<{ job: number; held: number }> = [];
    const started: number[] = [];
    const runs = sizes.map((pixels, job) =>
      pool.run(
        'tiny@1.0.0',
        image,
        { output: 'grayscale', colormap: 'turbo' },
        {
          enter: (stage) => {
            held.push({ job, held: pool.heldPixels });
            if (stage === 'decode') started.push(job);
          },
          pause: () => held.push({ job, held: pool.heldPixels }),
        },
        pixels,
      ),
    );
    // Only what fits is handed over at once: 60 + 30; 50 would make 140.
    expect(pool.heldPixels).toBe(90);
    const outputs = await Promise.all(runs);
    expect(outputs).toHaveLength(sizes.length);
    expect(pool.heldPixels).toBe(0);

    const oversized = sizes.indexOf(150);
    for (const sample of held) {
      if (sample.job === oversized) expect(sample).toEqual({ job: oversized, held: 150 });
      else expect(sample.held).toBeLessThanOrEqual(BUDGET);
    }
    // Handed over in order of arrival (two threads may start them in either order): the large
    // image is not overtaken by the small ones after it.
    const byArrival = (jobs: number[]) => [...jobs].sort((a, b) => a - b);
    expect(byArrival(started.slice(0, oversized))).toEqual([0, 1, 2]);
    expect(started[oversized]).toBe(oversized);
    expect(byArrival(started.slice(oversized + 1))).toEqual([4, 5, 6]);
  });
});
