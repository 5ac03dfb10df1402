import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { depthModelsDir, FathomStack, LOAD_TEST_LIMITS_ENV, NULL_MODEL_INPUT, type WorkerProcess } from '../test/support/fathom-stack';
import { greyBenchImage, type BenchImage } from './bench-images';
import { fixedLatencyStandIn, SIMULATED_INFERENCE_ENV, simulatedInferenceEnv } from './hooks/simulated-inference';
import { median, percentile, round1 } from './bench-stats';
import { connectClients, ROUTE_DESCRIPTION, type DriverRoute, type LoadClient } from './load-driver';
import { cpuMsPerJob, cpuSnapshot } from './process-stats';
import { redisInfo, stopWorker } from './process-metrics';
import type { BenchContext, ScenarioResult } from './scenario';

const MODEL = 'null-depth';
const SIMULATED_INFERENCE_MS = 50;
/** One slot at best: one 50 ms run after another. Efficiency is measured against this, not against a measured 1-slot run. */
const IDEAL_JOBS_PER_SLOT = 1000 / SIMULATED_INFERENCE_MS;
const TARGET_SLOTS = 32;
const QUICK_SLOTS = 8;
const TARGET_EFFICIENCY = 0.9;
/** Closed-loop clients per slot: with 2 the slots wait on the round trips around each job; 4 keeps a queue. */
const CLIENTS_PER_SLOT = 4;
/** The route: submit over REST, hear the end over socket.io, read the artifact. */
const ROUTE: DriverRoute = 'socket';

interface Layout {
  processes: number;
  threadsPerProcess: number;
}

interface SlotRun {
  jobsPerSecond: number;
  efficiency: number;
  p50Ms: number;
  p95Ms: number;
  /** CPU per completed job of each process (ms), read from /proc over the measured window. */
  cpuMsPerJob: Record<string, number>;
}

/**
 * Throughput against worker slots with a fixed-latency model: the null model plus a 50 ms wait that
 * uses no CPU (bench/hooks/simulated-inference.ts, preloaded into the worker), standing in for a GPU. Each slot can do 20 jobs/s;
 * everything else (upload, queue, events, the pixel pipeline) is the service's own cost, on the
 * same 2 cores as the load generator.
 */
export async function horizontalScalingScenario(ctx: BenchContext): Promise<ScenarioResult> {
  // Slots in one worker process (threads blocked in a wait cost nothing; every process adds its own
  // polling, heartbeats and event loop), and in the full run the largest counts again over processes.
  // Efficiency is against the ideal, so the quick run needs no 1-slot baseline.
  // Quick: 8 slots, as a worker with 32 inference threads takes ~6 s to start here; the target is judged in full runs.
  const layouts: Layout[] = (ctx.quick ? [QUICK_SLOTS] : [1, 2, 4, 8, 16, TARGET_SLOTS]).map((slots) => ({
    processes: 1,
    threadsPerProcess: slots,
  }));
  const spread: Layout[] = ctx.quick
    ? []
    : [
        { processes: 4, threadsPerProcess: 4 },
        { processes: 4, threadsPerProcess: 8 },
      ];
  const warmupMs = ctx.quick ? 300 : 1_500;
  const windowMs = ctx.quick ? 1_000 : 6_000;
  const modelsDir = depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT);
  const image = await greyBenchImage();
  const stack = await FathomStack.start();
  const runs = new Map<string, SlotRun & { layout: Layout }>();
  try {
    const redisPid = (await redisInfo(stack.redis.url)).pid;
    // The API starts beside the first workers: a worker needs only Redis.
    const api = stack.startApi(LOAD_TEST_LIMITS_ENV);
    for (const layout of [...layouts, ...spread]) {
      const [, ...workers] = await Promise.all([
        api,
        ...Array.from({ length: layout.processes }, () =>
          stack.startWorker({
            MODELS_DIR: modelsDir,
            WORKER_BUILTIN_MODELS: 'false',
            WORKER_INFERENCE_THREADS: String(layout.threadsPerProcess),
            ...simulatedInferenceEnv(SIMULATED_INFERENCE_MS),
          }),
        ),
      ]);
      try {
        const pids = {
          driver: process.pid,
          api: stack.api.process.child.pid,
          redis: redisPid,
          ...Object.fromEntries(workers.map((w, i) => [`worker${i + 1}`, w.child.pid])),
        };
        runs.set(key(layout), { layout, ...(await measure(stack, layout, image, pids, warmupMs, windowMs)) });
      } finally {
        await Promise.all(workers.map((w: WorkerProcess) => stopWorker(w)));
      }
    }
  } finally {
    await stack.stop();
  }

  const figures: Record<string, unknown> = {};
  // Beside the efficiency against the ideal, the scaling against the measured single slot (full runs).
  const oneSlot = runs.get(key({ processes: 1, threadsPerProcess: 1 }));
  const vsOneSlot = (run: SlotRun & { layout: Layout }) =>
    Math.round((run.jobsPerSecond / (run.layout.processes * run.layout.threadsPerProcess * oneSlot!.jobsPerSecond)) * 100) / 100;
  for (const [name, run] of runs) {
    figures[name] = {
      jobsPerSecond: run.jobsPerSecond,
      efficiency: run.efficiency,
      ...(oneSlot ? { vsOneSlot: vsOneSlot(run) } : {}),
      p50Ms: run.p50Ms,
      p95Ms: run.p95Ms,
    };
  }
  const largest = runs.get(key(layouts.at(-1)!))!;
  const cpuTotal = Object.values(largest.cpuMsPerJob).reduce((sum, ms) => sum + ms, 0);
  const perJob = { ...groupWorkers(largest.cpuMsPerJob), total: round1(cpuTotal) };
  const largestSlots = largest.layout.threadsPerProcess;
  figures[`cpuMsPerJobAt${largestSlots}Slots`] = perJob;
  // Cores each process kept busy over the window: one near 1 is a single thread's limit; a total near the core count is the machine's.
  figures[`coresBusyAt${largestSlots}Slots`] = Object.fromEntries(
    Object.entries(perJob).map(([name, ms]) => [name, Math.round((ms * largest.jobsPerSecond) / 10) / 100]),
  );
  // What the cores can carry at that cost per job, whatever the slots: where scaling has to stop.
  figures.cpuBoundJobsPerSecond = Math.round((availableParallelism() * 1000) / cpuTotal);
  if (oneSlot)
    figures.linearUpToSlots = Math.max(
      ...[...runs.values()]
        .filter((r) => r.layout.processes === 1 && vsOneSlot(r) >= TARGET_EFFICIENCY)
        .map((r) => r.layout.threadsPerProcess),
    );
  return {
    scenario: 'horizontal-scaling',
    model: `${MODEL}@1.0.0`,
    standIn: `fixed-latency model standing in for a GPU: ${fixedLatencyStandIn(SIMULATED_INFERENCE_MS)}`,
    command: ctx.command,
    setup: {
      image: '64×48 PNG',
      route: ROUTE_DESCRIPTION[ROUTE],
      load: `closed loop, ${CLIENTS_PER_SLOT} clients per slot (one socket.io connection each); once every client has had a job back, ${warmupMs / 1000} s more, then the jobs completed in a ${windowMs / 1000} s window`,
      slots:
        'inference threads (WORKER_INFERENCE_THREADS); `slotsN` = one worker process with N threads, `slotsNinPxT` = P processes × T threads',
      efficiency: `jobs/s ÷ (slots × ${IDEAL_JOBS_PER_SLOT} jobs/s, the ideal of a ${SIMULATED_INFERENCE_MS} ms model); the target's figure. vsOneSlot: jobs/s ÷ (slots × the 1-slot run's jobs/s); linearUpToSlots: the most slots (one process) with vsOneSlot ≥ ${TARGET_EFFICIENCY}`,
      workerEnv: { [SIMULATED_INFERENCE_ENV]: SIMULATED_INFERENCE_MS, WORKER_CONCURRENCY: 'auto (threads × 2)' },
      processes: `one API, one redis-server, the workers and this driver on the same ${availableParallelism()} cores`,
      ...(ctx.quick ? { quick: `${QUICK_SLOTS} slots only, a short window; the ${TARGET_SLOTS}-slot target is judged in full runs` } : {}),
    },
    figures,
    // Quick runs stop short of the target's slot count, so they are not judged against it.
    targets: ctx.quick
      ? []
      : [
          {
            figure: key(largest.layout),
            target: `efficiency ≥ ${TARGET_EFFICIENCY} at ${TARGET_SLOTS} slots`,
            value: largest.efficiency,
            met: largest.efficiency >= TARGET_EFFICIENCY,
          },
        ],
  };
}

const key = (layout: Layout): string => {
  const slots = layout.processes * layout.threadsPerProcess;
  return layout.processes === 1 ? `slots${slots}` : `slots${slots}in${layout.processes}x${layout.threadsPerProcess}`;
};

async function measure(
  stack: FathomStack,
  layout: Layout,
  image: BenchImage,
  pids: Record<string, number | undefined>,
  warmupMs: number,
  windowMs: number,
): Promise<SlotRun> {
  const slots = layout.processes * layout.threadsPerProcess;
  const clients = await connectClients(stack.api, MODEL, ROUTE, CLIENTS_PER_SLOT * slots);
  const cpu = () => cpuSnapshot(pids);
  try {
    const { walls, cpuBefore, cpuAfter } = await closedLoop(clients, image, warmupMs, windowMs, cpu);
    const jobsPerSecond = round1(walls.length / (windowMs / 1000));
    return {
      jobsPerSecond,
      efficiency: Math.round((jobsPerSecond / (slots * IDEAL_JOBS_PER_SLOT)) * 100) / 100,
      p50Ms: round1(median(walls)),
      p95Ms: round1(percentile(walls, 95)),
      cpuMsPerJob: cpuMsPerJob(cpuBefore, cpuAfter, walls.length),
    };
  } finally {
    for (const client of clients) client.close();
  }
}

type CpuSnapshot = Record<string, number | null>;

/**
 * Every client sends its next job as soon as the last one is done. The window opens `warmupMs` after
 * every client has had one job back (connections made, code warm, the queue at its steady length)
 * and counts the jobs that end inside it; CPU is read at both ends.
 */
async function closedLoop(
  clients: LoadClient[],
  image: BenchImage,
  warmupMs: number,
  windowMs: number,
  cpu: () => CpuSnapshot,
): Promise<{ walls: number[]; cpuBefore: CpuSnapshot; cpuAfter: CpuSnapshot }> {
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let warm = 0;
  let snapshots: Promise<[CpuSnapshot, CpuSnapshot]> | undefined;
  const at = (ms: number) => new Promise<CpuSnapshot>((resolve) => setTimeout(() => resolve(cpu()), ms));
  const walls: number[] = [];
  await Promise.all(
    clients.map(async (client) => {
      await client.run(image);
      if (++warm === clients.length) {
        windowStart = performance.now() + warmupMs;
        windowEnd = windowStart + windowMs;
        snapshots = Promise.all([at(warmupMs), at(warmupMs + windowMs)]);
      }
      while (performance.now() < windowEnd) {
        const sample = await client.run(image);
        const done = performance.now();
        if (done >= windowStart && done <= windowEnd) walls.push(sample.wallMs);
      }
    }),
  );
  const [cpuBefore, cpuAfter] = await snapshots!;
  return { walls, cpuBefore, cpuAfter };
}

/** Workers' CPU added up: with several processes, the per-process split says nothing more. */
function groupWorkers(perJob: Record<string, number>): Record<string, number> {
  const grouped: Record<string, number> = {};
  for (const [name, ms] of Object.entries(perJob)) {
    const group = name.startsWith('worker') ? 'workers' : name;
    grouped[group] = round1((grouped[group] ?? 0) + ms);
  }
  return grouped;
}
