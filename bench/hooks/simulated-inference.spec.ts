import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildDepthStandInModel, repoRoot } from '@fathom/testing';
import { SIMULATED_INFERENCE_ENV, simulatedInferenceEnv } from './simulated-inference';

const WAIT_MS = 150;

/**
 * A worker's inference pool, in a process of its own started as the benchmark starts workers (the
 * hook's environment), running one job on the null model: its inference time, and whether the
 * main thread loaded onnxruntime.
 */
async function runOneJob(env: Record<string, string>): Promise<{ inferenceMs: number; mainLoadedOrt: boolean }> {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-hook-'));
  writeFileSync(join(dir, 'null.onnx'), buildDepthStandInModel());
  const dist = join(repoRoot(), 'dist');
  const script = `
    const { InferencePool } = require(${JSON.stringify(join(dist, 'apps/worker/src/inference/inference.pool.js'))});
    const { StageClock } = require(${JSON.stringify(join(dist, 'apps/worker/src/jobs/stage-clock.js'))});
    const { modelManifestSchema, specsFromManifest } = require(${JSON.stringify(join(dist, 'libs/models/src/index.js'))});
    const sharp = require('sharp');
    (async () => {
      const manifest = { name: 'null', version: '1', task: 'depth', weights: 'null.onnx', input: { resize: { mode: 'fixed', width: 28, height: 28 } } };
      const [spec] = specsFromManifest(modelManifestSchema.parse(manifest), { manifestFile: ${JSON.stringify(join(dir, 'null.model.json'))}, cacheDir: ${JSON.stringify(dir)} });
      const pool = new InferencePool({ models: [spec], intraOpThreads: 1, sharpThreads: 1, executionProviders: ['cpu'], maxPixels: 1e6, png: { compressionLevel: 1 } }, 1);
      await pool.start();
      const image = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#406080' } }).png().toBuffer();
      const clock = new StageClock();
      await pool.run('null@1', new Uint8Array(image), { output: 'grayscale', colormap: 'turbo' }, clock);
      await pool.close();
      const mainLoadedOrt = Object.keys(require.cache).some((path) => path.includes('onnxruntime-node'));
      console.log(JSON.stringify({ inferenceMs: clock.timings.inference, mainLoadedOrt }));
    })();`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
    cwd: repoRoot(),
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { inferenceMs: number; mainLoadedOrt: boolean };
}

describe('the benchmark hook for a fixed-latency model (bench/hooks/simulated-inference.preload.ts)', () => {
  it('holds each session.run on the inference thread for the set time, preloaded without touching the worker code', async () => {
    const hooked = await runOneJob(simulatedInferenceEnv(WAIT_MS, {}));
    // Atomics.wait returns no sooner than its timeout: a bound, not a timing guess.
    expect(hooked.inferenceMs).toBeGreaterThanOrEqual(WAIT_MS);
    // Only inference threads are patched: the main thread never loads onnxruntime for the hook.
    expect(hooked.mainLoadedOrt).toBe(false);
  }, 90_000);

  it('passes on NODE_OPTIONS the process already had', () => {
    const env = simulatedInferenceEnv(50, { NODE_OPTIONS: '--max-old-space-size=4096' });
    expect(env.NODE_OPTIONS).toMatch(/^--max-old-space-size=4096 --require ".*simulated-inference\.preload\.js"$/);
    expect(env[SIMULATED_INFERENCE_ENV]).toBe('50');
  });
});
