import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { parseTaskOptions } from '@fathom/contracts';
import { loadCatalog, specKey } from '@fathom/models';
import { buildConvDepthModel } from '@fathom/testing';
import { inferenceThreadInit, intraOpThreads, loadWorkerConfig } from '../apps/worker/src/config/worker.config';
import { InferencePool } from '../apps/worker/src/inference/inference.pool';
import type { StageTimes } from '../apps/worker/src/inference/thread-protocol';
import { StageClock } from '../apps/worker/src/jobs/stage-clock';
import { depthModelsDir } from '../test/support/fathom-stack';
import type { BenchImageSet } from './bench-images';
import { median, percentile, round1 } from './bench-stats';
import type { BenchContext, ScenarioResult } from './scenario';

const MODEL = 'conv-depth';
/** The bar: Fathom's depth pipeline at least 1.5× faster per image than transformers.js's. */
const TARGET_SPEEDUP = 1.5;
/** Depth Anything V2's preprocessor_config.json (onnx-community/depth-anything-v2-small), as transformers.js reads it. */
const PREPROCESSOR_CONFIG = {
  do_normalize: true,
  do_pad: false,
  do_rescale: true,
  do_resize: true,
  ensure_multiple_of: 14,
  image_mean: [0.485, 0.456, 0.406],
  image_processor_type: 'DPTImageProcessor',
  image_std: [0.229, 0.224, 0.225],
  keep_aspect_ratio: true,
  resample: 3,
  rescale_factor: 1 / 255,
  size: { height: 518, width: 518 },
};

const passes = (quick: boolean) => (quick ? 1 : 3);

/** Two 8-bit grey PNGs of the same size → their mean absolute difference in grey levels; NaN when the sizes differ. */
async function meanAbsDiff(a: Uint8Array, b: Uint8Array): Promise<number> {
  const [x, y] = await Promise.all([a, b].map((png) => sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true })));
  if (!x || !y || x.info.width !== y.info.width || x.info.height !== y.info.height) return NaN;
  let sum = 0;
  for (let i = 0; i < x.data.length; i++) sum += Math.abs(x.data[i]! - y.data[i]!);
  return sum / x.data.length;
}

const stats = (samples: number[]) => ({ p50: round1(median(samples)), p95: round1(percentile(samples, 95)) });

/**
 * Scenario 6b of the issue: `@huggingface/transformers`' depth-estimation pipeline against Fathom's
 * in-process depth pipeline (the worker's InferencePool, one inference thread), one image at a time
 * on the same photos and the same ONNX file — a Depth-Anything-shaped convolutional stand-in, laid
 * out for transformers.js as a local model (no network) and served to Fathom by a depth manifest.
 * Each side goes from the uploaded bytes to an 8-bit grey depth PNG at the photo's size.
 */
export async function transformersDepthScenario(ctx: BenchContext, set: BenchImageSet): Promise<ScenarioResult> {
  const { env, pipeline, RawImage } = await import('@huggingface/transformers');
  const model = buildConvDepthModel();
  const config = loadWorkerConfig({ ...process.env, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
  const threads = intraOpThreads(config);

  // transformers.js: <localModelPath>/<id>/{config.json, preprocessor_config.json, onnx/model.onnx}.
  const localModels = mkdtempSync(join(tmpdir(), 'fathom-bench-hf-'));
  const modelDir = join(localModels, 'fathom-bench', MODEL);
  mkdirSync(join(modelDir, 'onnx'), { recursive: true });
  writeFileSync(join(modelDir, 'onnx', 'model.onnx'), model);
  writeFileSync(
    join(modelDir, 'config.json'),
    JSON.stringify({ model_type: 'depth_anything', architectures: ['DepthAnythingForDepthEstimation'] }),
  );
  writeFileSync(join(modelDir, 'preprocessor_config.json'), JSON.stringify(PREPROCESSOR_CONFIG));
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = localModels;
  env.cacheDir = join(localModels, '.cache');
  const depth = await pipeline('depth-estimation', `fathom-bench/${MODEL}`, {
    device: 'cpu',
    dtype: 'fp32',
    // The worker's session options (inference.thread.ts), so both run the model alike.
    session_options: { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' },
  });

  // session.run's own time inside the pipeline, to set what surrounds inference on each side apart
  // from the model's cost. `model.sessions` is transformers.js's internal field: measurement only.
  const sessionMs: number[] = [];
  const session = (depth.model as unknown as { sessions?: Record<string, { run: (...args: unknown[]) => Promise<unknown> }> }).sessions
    ?.model;
  if (session) {
    const run = session.run.bind(session);
    session.run = async (...args: unknown[]) => {
      const started = performance.now();
      try {
        return await run(...args);
      } finally {
        sessionMs.push(performance.now() - started);
      }
    };
  }

  // Fathom: the same bytes as a MODELS_DIR depth model (the task's defaults: Depth Anything V2's contract).
  const spec = loadCatalog({
    builtin: false,
    modelsDir: depthModelsDir(model, MODEL),
    cacheDir: mkdtempSync(join(tmpdir(), 'fathom-bench-cache-')),
  })[0]!;
  const pool = new InferencePool(inferenceThreadInit(config, [spec]), 1);
  const options = parseTaskOptions('depth', { output: 'grayscale' });
  const key = specKey(spec);

  const fathomOnce = async (bytes: Buffer) => {
    const started = performance.now();
    const clock = new StageClock();
    const output = await pool.run(key, new Uint8Array(bytes), options, clock);
    const png = output.artifacts.find((a) => a.name === output.primary)!.bytes;
    return {
      ms: performance.now() - started,
      png,
      timings: clock.timings,
      modelInput: output.summary.task === 'depth' ? output.summary.modelInput : undefined,
    };
  };
  const transformersOnce = async (bytes: Buffer) => {
    const t0 = performance.now();
    const image = await RawImage.fromBlob(new Blob([new Uint8Array(bytes)]));
    const t1 = performance.now();
    const runs = sessionMs.length;
    const { depth: map } = await depth(image);
    const t2 = performance.now();
    const png = await map.toSharp().png().toBuffer();
    const t3 = performance.now();
    const inference = sessionMs.length === runs + 1 ? sessionMs[runs]! : NaN;
    return { ms: t3 - t0, png, inference, stages: { read: t1 - t0, pipeline: t2 - t1, encode: t3 - t2 } };
  };

  const images = set.images;
  // The 1-minute load average before and after: the machine is shared, and this shows by how much.
  const loadAverage = { start: round1(loadavg()[0] ?? NaN), end: NaN };
  try {
    await pool.start();
    for (const image of images.slice(0, ctx.quick ? 1 : 2)) {
      await fathomOnce(image.bytes); // warm-up: JIT, allocators, sharp's caches, on both sides
      await transformersOnce(image.bytes);
    }
    const fathom: Array<Awaited<ReturnType<typeof fathomOnce>>> = [];
    const transformers: Array<Awaited<ReturnType<typeof transformersOnce>>> = [];
    const perImage = images.map((image) => ({
      name: image.name,
      fathomMs: [] as number[],
      transformersMs: [] as number[],
      fathomInput: '',
      transformersInput: '',
      meanAbsDiff: NaN,
    }));
    for (let pass = 0; pass < passes(ctx.quick); pass++) {
      for (const [i, image] of images.entries()) {
        // Alternating who goes first, so drift on a shared machine falls on both alike.
        let f: Awaited<ReturnType<typeof fathomOnce>>;
        let t: Awaited<ReturnType<typeof transformersOnce>>;
        if ((i + pass) % 2 === 0) {
          f = await fathomOnce(image.bytes);
          t = await transformersOnce(image.bytes);
        } else {
          t = await transformersOnce(image.bytes);
          f = await fathomOnce(image.bytes);
        }
        fathom.push(f);
        transformers.push(t);
        const record = perImage[i]!;
        record.fathomMs.push(f.ms);
        record.transformersMs.push(t.ms);
        if (pass === 0) {
          // Outside the timings: the model input each chose, and how far apart the two maps are.
          const processed: unknown = await depth.processor(await RawImage.fromBlob(new Blob([new Uint8Array(image.bytes)])));
          const [, , h, w] = (processed as { pixel_values: { dims: number[] } }).pixel_values.dims;
          record.transformersInput = `${w}×${h}`;
          record.fathomInput = f.modelInput ? `${f.modelInput.width}×${f.modelInput.height}` : '?';
          record.meanAbsDiff = round1(await meanAbsDiff(f.png, t.png));
        }
      }
    }
    loadAverage.end = round1(loadavg()[0] ?? NaN);
    const fathomMs = fathom.map((r) => r.ms);
    const transformersMs = transformers.map((r) => r.ms);
    const speedup = Math.round((median(transformersMs) / median(fathomMs)) * 100) / 100;
    const imageSpeedups = perImage.map((r) => median(r.transformersMs) / median(r.fathomMs));
    const stageNames = Object.keys(fathom[0]!.timings) as Array<keyof StageTimes>;
    const sameInput = perImage.filter((r) => r.fathomInput === r.transformersInput);
    const medianDiff = (rows: typeof perImage) => (rows.length > 0 ? round1(median(rows.map((r) => r.meanAbsDiff))) : NaN);
    return {
      scenario: 'transformers-depth',
      model: `${MODEL}@1.0.0`,
      standIn: `a generated Depth-Anything-shaped ONNX network (buildConvDepthModel: 14×14 patch embedding, 8 3×3 convolutions at 96 channels, a DPT-like upsampling head; pixel_values → predicted_depth), ${Math.round(model.length / 1024)} KiB of seeded random weights: no usable Depth Anything V2 weights on this machine`,
      command: ctx.command,
      setup: {
        images: set.source,
        passes: passes(ctx.quick),
        order: 'one image at a time, the two alternating which goes first',
        ortIntraOpThreads: threads,
        fathom:
          'InferencePool (one inference thread), depth manifest with the task defaults (shorter side 518, multiples of 14, ImageNet mean/std), options {output: grayscale}: bytes → 8-bit grey PNG at the photo size',
        transformers: `@huggingface/transformers ${env.version} pipeline('depth-estimation') from local files (allowRemoteModels false), device cpu, dtype fp32, same session options; RawImage.fromBlob(bytes) → pipeline → depth.toSharp().png()`,
        transformersOnnxruntimeNode: env.backends.onnx.versions?.node ?? 'the project’s onnxruntime-node (deduplicated)',
        loadAverage,
        perImage: perImage.map(({ fathomMs: f, transformersMs: t, ...rest }) => ({
          ...rest,
          fathomMedianMs: round1(median(f)),
          transformersMedianMs: round1(median(t)),
        })),
      },
      figures: {
        fathomMs: stats(fathomMs),
        transformersMs: stats(transformersMs),
        speedup,
        /** The same, over the images where both chose the same model input (under 518 px, transformers.js scales less: a smaller input). */
        speedupSameModelInput:
          sameInput.length > 0
            ? Math.round((median(sameInput.flatMap((r) => r.transformersMs)) / median(sameInput.flatMap((r) => r.fathomMs))) * 100) / 100
            : NaN,
        speedupP95: Math.round((percentile(transformersMs, 95) / percentile(fathomMs, 95)) * 100) / 100,
        perImageSpeedupRange: `${round1(Math.min(...imageSpeedups))}–${round1(Math.max(...imageSpeedups))}`,
        transformersWithoutPngMs: stats(transformers.map((r) => r.ms - r.stages.encode)),
        /** Everything but session.run (same model, same ORT options): what each pipeline adds around the model. */
        outsideInferenceMs: {
          fathom: stats(fathom.map((r) => r.ms - r.timings.inference)),
          transformers: stats(transformers.map((r) => r.ms - r.inference)),
        },
        outsideInferenceSpeedup:
          Math.round((median(transformers.map((r) => r.ms - r.inference)) / median(fathom.map((r) => r.ms - r.timings.inference))) * 100) /
          100,
        fathomStageMedianMs: Object.fromEntries(stageNames.map((s) => [s, round1(median(fathom.map((r) => r.timings[s])))])),
        transformersStageMedianMs: {
          ...Object.fromEntries(
            (['read', 'pipeline', 'encode'] as const).map((s) => [s, round1(median(transformers.map((r) => r.stages[s])))]),
          ),
          'pipeline’s session.run': round1(median(transformers.map((r) => r.inference))),
        },
        sameModelInputSize: `${sameInput.length} of ${images.length} images`,
        /** Median over images of the mean |Fathom − transformers.js| per pixel of the 8-bit maps. */
        mapDifferenceGreyLevels: { sameModelInput: medianDiff(sameInput), all: medianDiff(perImage) },
      },
      targets: [
        {
          figure: 'speedup',
          target: `≥ ${TARGET_SPEEDUP} (median per image, transformers.js ÷ Fathom)`,
          value: speedup,
          met: speedup >= TARGET_SPEEDUP,
        },
      ],
    };
  } finally {
    await pool.close();
    await depth.dispose();
  }
}
