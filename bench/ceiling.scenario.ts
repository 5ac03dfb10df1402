import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseTaskOptions } from '@fathom/contracts';
import { loadCatalog, specKey, type ModelSpec } from '@fathom/models';
import { inferenceThreadInit, intraOpThreads, loadWorkerConfig } from '../apps/worker/src/config/worker.config';
import { InferencePool } from '../apps/worker/src/inference/inference.pool';
import type { StageTimes } from '../apps/worker/src/inference/thread-protocol';
import { StageClock } from '../apps/worker/src/jobs/stage-clock';
import type { BenchImageSet } from './bench-images';
import { median, round1 } from './bench-stats';
import type { BenchContext, ScenarioResult } from './scenario';

export const CEILING_MODEL = 'ppocr-v4-det';
export const DEPTH_STAND_IN =
  'PP-OCRv4 text detector standing in for a depth model (no usable Depth Anything V2 weights on this machine: ../shared/models holds only a Git LFS pointer for it)';

/** Times each image is run, in the ceiling and end to end alike, so the two rates compare. */
export const benchPasses = (quick: boolean): number => (quick ? 1 : 4);

export function builtinSpec(name: string): ModelSpec {
  const spec = loadCatalog({ builtin: true, cacheDir: mkdtempSync(join(tmpdir(), 'fathom-bench-cache-')) }).find((s) => s.name === name);
  if (!spec) throw new Error(`no built-in manifest for ${name}`);
  return spec;
}

/**
 * The most one worker process could do: the worker's own InferencePool with one inference thread
 * (what a worker runs by default, with the same ORT thread count), fed straight from memory, so a
 * job's work is all there is: decode, preprocess, session.run, postprocess, encode.
 */
export async function ceilingScenario(ctx: BenchContext, set: BenchImageSet): Promise<ScenarioResult> {
  const spec = builtinSpec(CEILING_MODEL);
  // Parsed like the worker parses its env, so ORT_* and WORKER_* overrides apply to both alike.
  const config = loadWorkerConfig({ ...process.env, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
  const threads = intraOpThreads(config);
  const pool = new InferencePool(inferenceThreadInit(config, [spec]), 1);
  const passes = benchPasses(ctx.quick);
  try {
    await pool.start();
    const options = parseTaskOptions(spec.task, undefined);
    const key = specKey(spec);
    const once = async (bytes: Buffer) => {
      const clock = new StageClock();
      await pool.run(key, new Uint8Array(bytes), options, clock);
      return clock.timings;
    };
    for (const image of set.images.slice(0, 2)) await once(image.bytes); // warm-up: JIT, allocator, sharp's caches
    const work = Array.from({ length: passes }, () => set.images).flat();
    const outputs: StageTimes[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      // As many jobs as the worker holds by default (WORKER_CONCURRENCY auto): the thread never waits for the next.
      Array.from({ length: pool.capacity }, async () => {
        while (next < work.length) outputs.push(await once(work[next++]!.bytes));
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const stages = Object.keys(outputs[0]!) as Array<keyof StageTimes>;
    const stageMedians = Object.fromEntries(stages.map((stage) => [stage, round1(median(outputs.map((o) => o[stage])))]));
    const perImage = outputs.map((o) => stages.reduce((sum, stage) => sum + o[stage], 0));
    return {
      scenario: 'ceiling',
      model: `${spec.name}@${spec.version}`,
      standIn: DEPTH_STAND_IN,
      command: ctx.command,
      setup: {
        images: set.source,
        passes,
        inferenceThreads: 1,
        ortIntraOpThreads: threads,
        executionProviders: config.ORT_EXECUTION_PROVIDERS,
        modelInput: spec.input.resize,
      },
      figures: {
        imagesPerSecond: Math.round((work.length / seconds) * 100) / 100,
        images: work.length,
        seconds: round1(seconds),
        medianMsPerImage: round1(median(perImage)),
        medianStageMs: stageMedians,
      },
    };
  } finally {
    await pool.close();
  }
}
