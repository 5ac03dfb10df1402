import sharp from 'sharp';
import { depthModelsDir, FathomStack, LOAD_TEST_LIMITS_ENV, NULL_MODEL_INPUT } from '../test/support/fathom-stack';
import type { BenchImage } from './bench-images';
import { round1 } from './bench-stats';
import { connectClients, driveClients, ROUTE_DESCRIPTION, type DriverRoute } from './load-driver';
import { mebibytes, processMemory, redisInfo, stopWorker } from './process-metrics';
import type { BenchContext, ScenarioResult } from './scenario';

const MODEL = 'null-depth';
const TARGET_GROWTH_PERCENT = 10;
const CLIENTS = 16;
const ROUTE: DriverRoute = 'socket';
/** RSS is read this many times over the run, so a leak shows as a trend rather than one reading. */
const READINGS = 5;
/**
 * A full run warms up for longer than the API keeps recent job records (60 s, job-reader.service.ts)
 * so that every bounded cache, V8's heap sizing and the allocators' pools have reached their working
 * size before the first reading: what grows after that grows with jobs.
 */
const FULL_WARMUP_MS = 70_000;

/**
 * Memory: the API's and the worker's resident set after warm-up and after thousands of jobs (a
 * leak grows with jobs; a cache or a heap that has found its size does not), and what each built-in
 * model adds to a worker. RSS is read from each process's own /metrics.
 */
export async function memoryScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const jobs = ctx.quick ? 150 : 5_000;
  const warmupMs = ctx.quick ? 0 : FULL_WARMUP_MS;
  // Quick: 30 warm-up jobs, then 150 measured.
  const warmupChunk = ctx.quick ? 30 : 500;
  const image: BenchImage = {
    name: 'noise-64x48.png',
    bytes: await sharp({
      create: { width: 64, height: 48, channels: 3, background: '#406080', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
    })
      .png()
      .toBuffer(),
  };
  const nullModel = { MODELS_DIR: depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT), WORKER_BUILTIN_MODELS: 'false' };
  const stack = await FathomStack.start();
  try {
    const [, worker] = await Promise.all([
      stack.startApi(LOAD_TEST_LIMITS_ENV),
      stack.startWorker({ ...nullModel, WORKER_CONCURRENCY: String(CLIENTS) }),
    ]);
    const urls = { api: stack.api.metricsUrl, worker: await FathomStack.metricsUrl(worker) };
    const memory = async () => ({ api: await processMemory(urls.api), worker: await processMemory(urls.worker) });
    const clients = await connectClients(stack.api, MODEL, ROUTE, CLIENTS);
    const series: Array<{ jobs: number } & Awaited<ReturnType<typeof memory>>> = [];
    let redisAfterWarmup = 0;
    let warmup = { jobs: 0, seconds: 0 };
    try {
      const warmupStarted = Date.now();
      let warmupJobs = 0;
      do {
        await driveClients(clients, [image], warmupChunk);
        warmupJobs += warmupChunk;
      } while (Date.now() - warmupStarted < warmupMs);
      warmup = { jobs: warmupJobs, seconds: round1((Date.now() - warmupStarted) / 1000) };
      series.push({ jobs: 0, ...(await memory()) });
      redisAfterWarmup = (await redisInfo(stack.redis.url)).usedMemoryBytes;
      for (let reading = 1; reading <= READINGS; reading++) {
        await driveClients(clients, [image], jobs / READINGS);
        series.push({ jobs: (reading * jobs) / READINGS, ...(await memory()) });
      }
    } finally {
      for (const client of clients) client.close();
    }
    const redisAfterJobs = (await redisInfo(stack.redis.url)).usedMemoryBytes;
    await stopWorker(worker);

    // What models add: the same worker (one inference thread) with the null model (Node, Nest,
    // onnxruntime and a session that holds next to nothing), with the PP-OCRv4 detector, with both built-ins.
    const perModel: Record<string, number> = {};
    if (!ctx.quick) {
      const configurations: Array<[string, Record<string, string>]> = [
        ['nullModelOnly', nullModel],
        ['ppocrV4Det', { WORKER_MODELS: 'ppocr-v4-det' }],
        ['bothBuiltIns', { WORKER_MODELS: 'ppocr-v4-det,ppocr-mobile-v2-cls' }],
      ];
      for (const [name, env] of configurations) {
        const started = await stack.startWorker(env);
        perModel[name] = mebibytes((await processMemory(await FathomStack.metricsUrl(started))).rss);
        await stopWorker(started);
      }
    }

    const first = series[0]!;
    const last = series.at(-1)!;
    const growth = (name: 'api' | 'worker') => round1(((last[name].rss - first[name].rss) / first[name].rss) * 100);
    const apiGrowth = growth('api');
    const workerGrowth = growth('worker');
    return {
      scenario: 'memory',
      model: `${MODEL}@1.0.0`,
      standIn:
        'null model: the generated depth stand-in (mean of the channels) at a fixed 28×28 input, well under 1 ms, so thousands of jobs take seconds',
      command: ctx.command,
      setup: {
        image: '64×48 PNG',
        route: ROUTE_DESCRIPTION[ROUTE],
        load: `${CLIENTS} closed-loop clients; warm-up ${warmup.jobs} jobs in ${warmup.seconds} s${ctx.quick ? '' : ` (at least ${FULL_WARMUP_MS / 1000} s: longer than the API's 60 s job-record cache)`}, then ${jobs} jobs${ctx.quick ? ' (quick: not the issue’s 5,000)' : ''}, RSS read every ${jobs / READINGS}`,
        workerEnv: { WORKER_CONCURRENCY: CLIENTS, WORKER_INFERENCE_THREADS: 1 },
        rss: 'process_resident_memory_bytes (and nodejs_heap_size_used_bytes) from the API’s /metrics and the worker’s metrics port',
        ...(ctx.quick
          ? { perModel: 'skipped in quick mode' }
          : {
              perModel:
                'a fresh worker (1 inference thread, defaults) per configuration, read once it is ready (sessions created and warmed)',
            }),
      },
      figures: {
        apiRssMb: { afterWarmup: mebibytes(first.api.rss), afterJobs: mebibytes(last.api.rss) },
        apiRssGrowthPercent: apiGrowth,
        workerRssMb: { afterWarmup: mebibytes(first.worker.rss), afterJobs: mebibytes(last.worker.rss) },
        workerRssGrowthPercent: workerGrowth,
        // RSS, then the V8 heap in use (whatever the last GC left, plus what was allocated since): a leak grows both.
        apiMbByJobs: Object.fromEntries(series.map((s) => [s.jobs, `rss ${mebibytes(s.api.rss)} heap ${mebibytes(s.api.heapUsed)}`])),
        workerMbByJobs: Object.fromEntries(
          series.map((s) => [s.jobs, `rss ${mebibytes(s.worker.rss)} heap ${mebibytes(s.worker.heapUsed)}`]),
        ),
        // Job records and results are kept for STORAGE_RETENTION_SECONDS by design: growth here is not a leak.
        redisUsedMemoryMb: { afterWarmup: mebibytes(redisAfterWarmup), afterJobs: mebibytes(redisAfterJobs) },
        ...(ctx.quick
          ? {}
          : {
              workerRssMbByModels: perModel,
              workerRssMbAddedByModel: {
                'ppocr-v4-det': round1(perModel.ppocrV4Det! - perModel.nullModelOnly!),
                'ppocr-mobile-v2-cls': round1(perModel.bothBuiltIns! - perModel.ppocrV4Det!),
              },
            }),
      },
      targets: [
        {
          figure: 'apiRssGrowthPercent',
          target: `< ${TARGET_GROWTH_PERCENT} % after ${jobs} jobs`,
          value: apiGrowth,
          met: apiGrowth < TARGET_GROWTH_PERCENT,
        },
        {
          figure: 'workerRssGrowthPercent',
          target: `< ${TARGET_GROWTH_PERCENT} % after ${jobs} jobs`,
          value: workerGrowth,
          met: workerGrowth < TARGET_GROWTH_PERCENT,
        },
      ],
    };
  } finally {
    await stack.stop();
  }
}
