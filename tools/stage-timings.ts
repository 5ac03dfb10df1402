/**
 * Median per-stage timings of a running Fathom for one image:
 *   node dist/tools/stage-timings.js http://localhost:8080 ppocr-v4-det ../shared/fixtures/images/cc0_coffee_indoor.png 12 ['{"output":"heatmap"}']
 * Runs jobs one at a time through POST /v1/infer; the first two are warm-up and not counted.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { JobStatus, StageTimings } from '@fathom/contracts';

const WARM_UP = 2;

async function main(): Promise<void> {
  const [url, model, file, runs = '12', options] = process.argv.slice(2);
  if (!url || !model || !file) throw new Error('usage: stage-timings URL MODEL IMAGE [RUNS] [OPTIONS_JSON]');
  const image = readFileSync(file);
  const samples: Array<StageTimings & { wall: number }> = [];
  let status: JobStatus | undefined;
  for (let i = 0; i < Number(runs); i++) {
    const form = new FormData();
    form.append('model', model);
    if (options) form.append('options', options);
    form.append('image', new Blob([new Uint8Array(image)]), basename(file));
    const started = performance.now();
    const response = await fetch(`${url}/v1/infer`, { method: 'POST', body: form });
    await response.arrayBuffer();
    const wall = performance.now() - started;
    if (response.status !== 200) throw new Error(`POST /v1/infer answered ${response.status}`);
    status = (await (await fetch(`${url}/v1/jobs/${response.headers.get('x-fathom-job-id')}`)).json()) as JobStatus;
    if (i >= WARM_UP && status.timings) samples.push({ ...status.timings, wall });
  }
  const median = (key: keyof (typeof samples)[number]) => {
    const sorted = samples.map((s) => s[key]).sort((a, b) => a - b);
    return Math.round((sorted[Math.floor(sorted.length / 2)] ?? NaN) * 10) / 10;
  };
  const keys = ['wall', 'queueWait', 'decode', 'preprocess', 'inference', 'postprocess', 'encode', 'total'] as const;
  console.log(
    JSON.stringify({
      image: basename(file),
      size: ((a) => (a ? `${a.width}x${a.height}` : 'no image output'))(status?.result?.artifacts.find((a) => a.width !== undefined)),
      primary: status?.result?.primary,
      modelInput: `${status?.result?.summary.modelInput.width}x${status?.result?.summary.modelInput.height}`,
      runs: samples.length,
      medianMs: Object.fromEntries(keys.map((k) => [k, median(k)])),
    }),
  );
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
