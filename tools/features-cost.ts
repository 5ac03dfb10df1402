/**
 * What the prediction log's features cost per job (issue 15's target: ≤ 2 % of the job's
 * compute): inputFeatures on a 518×392 RGB image (Depth Anything's model size) and a 1024×768 one,
 * and depth output features on a 518×392 float map. Median of 50 timed runs after 5 warm-up runs.
 *
 *   npm run build && node dist/tools/features-cost.js
 *
 * No timing is asserted anywhere: on a shared machine the figures are indications, not limits.
 */
import { performance } from 'node:perf_hooks';
import { inputFeatures } from '../apps/worker/src/features/input-features';
import { depthOutputFeatures } from '../apps/worker/src/features/output-features';

const RUNS = 50;
const WARM_UP = 5;

/** A photo-like image: smooth gradients with deterministic noise, so no branch is always taken. */
function syntheticImage(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let seed = 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const noise = (seed % 41) - 20;
      const p = (y * width + x) * 3;
      data[p] = Math.max(0, Math.min(255, (x * 255) / width + noise));
      data[p + 1] = Math.max(0, Math.min(255, (y * 255) / height - noise));
      data[p + 2] = Math.max(0, Math.min(255, 128 + noise * 2));
    }
  }
  return data;
}

function medianMs(run: () => void): number {
  for (let i = 0; i < WARM_UP; i++) run();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return (times[(RUNS - 1) >> 1]! + times[RUNS >> 1]!) / 2;
}

const figures: Record<string, number> = {};
for (const [width, height] of [
  [518, 392],
  [1024, 768],
] as const) {
  const rgb = { data: syntheticImage(width, height), width, height };
  const meta = { bytes: 100_000, format: 'jpeg' as const, width, height };
  figures[`inputFeatures ${width}x${height} ms`] = medianMs(() => inputFeatures(rgb, meta));
}
const depth = Float32Array.from({ length: 518 * 392 }, (_, i) => Math.sin(i / 977) * 3 + (i % 518) / 100);
figures['depthOutputFeatures 518x392 ms'] = medianMs(() => depthOutputFeatures(depth));

console.log(
  JSON.stringify({
    runs: RUNS,
    statistic: 'median',
    figures: Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Math.round(v * 100) / 100])),
  }),
);
