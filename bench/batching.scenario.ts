import { performance } from 'node:perf_hooks';
import { parseTaskOptions } from '@fathom/contracts';
import { specKey, type ModelSpec } from '@fathom/models';
import { inferenceThreadInit, loadWorkerConfig } from '../apps/worker/src/config/worker.config';
import { InferencePool } from '../apps/worker/src/inference/inference.pool';
import type { BenchImageSet } from './bench-images';
import { median, percentile, round1 } from './bench-stats';
import { builtinSpec, CEILING_MODEL } from './ceiling.scenario';
import type { BenchContext, ScenarioResult } from './scenario';

/** The issue's CPU stand-in for a depth model: PP-OCRv4's detector at a fixed 640×640. */
const SIDE = 640;
const MAX_DELAY_MS = 20;

export const BATCH_STAND_IN = `PP-OCRv4 text detector at a fixed ${SIDE}×${SIDE} standing in for a depth model (no usable Depth Anything V2 weights on this machine)`;

/**
 * Micro-batching on CPU: the worker's own pool, one inference thread, the manifest's batching at
 * 1, 2, 4 and 8, fed by as many closed-loop clients as the thread holds (two batches' worth), so
 * every batch can fill. Throughput, and the latency each job sees (handed to the pool → result).
 */
export async function batchingScenario(ctx: BenchContext, set: BenchImageSet): Promise<ScenarioResult> {
  const base = builtinSpec(CEILING_MODEL);
  const config = loadWorkerConfig({ ...process.env, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
  const sizes = ctx.quick ? [1, 2] : [1, 2, 4, 8];
  const jobs = ctx.quick ? 4 : 48;
  const perBatch: Record<string, { imagesPerSecond: number; p50Ms: number; p95Ms: number; meanBatch: number }> = {};
  for (const maxBatch of sizes) {
    const spec: ModelSpec = {
      ...base,
      input: { ...base.input, resize: { mode: 'fixed', width: SIDE, height: SIDE } },
      batching: { maxBatch, maxDelayMs: MAX_DELAY_MS },
    };
    const batches: number[] = [];
    const pool = new InferencePool(inferenceThreadInit(config, [spec]), 1, { onBatch: (_key, size) => batches.push(size) });
    try {
      await pool.start();
      const options = parseTaskOptions(spec.task, undefined);
      const once = async (bytes: Buffer) => {
        const started = performance.now();
        await pool.run(specKey(spec), new Uint8Array(bytes), options);
        return performance.now() - started;
      };
      await Promise.all(set.images.slice(0, maxBatch).map((image) => once(image.bytes))); // warm-up at this batch size
      batches.length = 0;
      const latencies: number[] = [];
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: pool.capacity }, async () => {
          while (next < jobs) latencies.push(await once(set.images[next++ % set.images.length]!.bytes));
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      perBatch[`batch ${maxBatch}`] = {
        imagesPerSecond: Math.round((jobs / seconds) * 100) / 100,
        p50Ms: round1(median(latencies)),
        p95Ms: round1(percentile(latencies, 95)),
        meanBatch: round1(batches.reduce((a, b) => a + b, 0) / batches.length),
      };
    } finally {
      await pool.close();
    }
  }
  const one = perBatch['batch 1']!.imagesPerSecond;
  return {
    scenario: 'batching',
    model: `${base.name}@${base.version}`,
    standIn: BATCH_STAND_IN,
    command: ctx.command,
    setup: {
      images: set.source,
      jobsPerBatchSize: jobs,
      inferenceThreads: 1,
      maxDelayMs: MAX_DELAY_MS,
      clients: 'two batches per thread (pool capacity)',
      modelInput: `${SIDE}×${SIDE}`,
    },
    figures: {
      ...Object.fromEntries(Object.entries(perBatch).map(([name, f]) => [name, f])),
      bestSpeedupOverBatch1: Math.round((Math.max(...Object.values(perBatch).map((f) => f.imagesPerSecond)) / one) * 100) / 100,
    },
  };
}
