import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import type { JobAccepted } from '@fathom/contracts';
import { DECODE_BYTES_PER_PIXEL } from '../apps/worker/src/config/worker.config';
import { depthModelsDir, FathomStack, NULL_MODEL_INPUT, submit, type WorkerProcess } from './support/fathom-stack';

/** A 4000×4000 flat-colour WebP: a few bytes that decode to 16 megapixels. */
const SIDE = 4000;
const IMAGES = 4;
/** Room for one such image at a time: with two jobs in hand, the second waits for the first. */
// FLOOD_BUDGET_MEGAPIXELS overrides it to measure (1000000: no budget, as before; 0: the default).
const BUDGET_MEGAPIXELS = 20;

/** Kilobytes from a /proc/<pid>/status line: VmRSS (resident now) or VmHWM (the peak so far). */
function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Number(/(\d+)/.exec(line ?? '')?.[1]) * 1024;
}

describe('a pixel flood: small files that decode to huge images', () => {
  let stack: FathomStack;
  let worker: WorkerProcess;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    worker = await stack.startWorker({
      MODELS_DIR: depthModelsDir(undefined, 'depth-test', NULL_MODEL_INPUT),
      WORKER_BUILTIN_MODELS: 'false',
      WORKER_CONCURRENCY: '2',
      WORKER_INFERENCE_THREADS: '1',
      WORKER_DECODE_BUDGET_MEGAPIXELS: process.env.FLOOD_BUDGET_MEGAPIXELS ?? String(BUDGET_MEGAPIXELS),
    });
  }, 60_000);
  afterAll(() => stack.stop());

  it('keeps the worker’s peak memory within its decode budget, and every job completes', async () => {
    const budgetMegapixels = Number(process.env.FLOOD_BUDGET_MEGAPIXELS ?? BUDGET_MEGAPIXELS);
    const image = await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background: '#336699' } })
      .webp({ lossless: true, effort: 0 })
      .toBuffer();
    expect(image.byteLength).toBeLessThan(1024);

    const pid = worker.child.pid!;
    const before = procStatusBytes(pid, 'VmRSS');
    const ids: string[] = [];
    for (let i = 0; i < IMAGES; i++) {
      const response = await submit(stack.api, { image, filename: 'flood.webp', model: 'depth-test' });
      expect(response.status).toBe(202);
      ids.push(((await response.json()) as JobAccepted).id);
    }
    const ends = await Promise.all(ids.map((id) => stack.jobEnd(id, { timeoutMs: 90_000 })));
    expect(ends.map((status) => status.state)).toEqual(ids.map(() => 'completed'));

    const peakGrowth = procStatusBytes(pid, 'VmHWM') - before;
    const after = procStatusBytes(pid, 'VmRSS') - before;
    // What the budget lets the threads hold, at the measured cost of an image's pixel. Without the
    // budget (both jobs in hand at once) the same flood peaked at +388 MiB, over this bound.
    const bound = budgetMegapixels * 1e6 * DECODE_BYTES_PER_PIXEL;
    console.log(
      `pixel flood: ${IMAGES} × ${SIDE}×${SIDE} WebP (${image.byteLength} B), budget ${budgetMegapixels} MP: ` +
        `worker RSS ${(before / 2 ** 20).toFixed(0)} MiB before, peak +${(peakGrowth / 2 ** 20).toFixed(0)} MiB, ` +
        `+${(after / 2 ** 20).toFixed(0)} MiB after (bound ${(bound / 2 ** 20).toFixed(0)} MiB)`,
    );
    expect(peakGrowth).toBeLessThan(bound);
  }, 120_000);
});
