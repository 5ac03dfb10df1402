import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from '@fathom/testing';
import { depthModelsDir, FathomStack, LOAD_TEST_LIMITS_ENV, NULL_MODEL_INPUT } from '../test/support/fathom-stack';
import { greyBenchImage } from './bench-images';
import { median, round1 } from './bench-stats';
import { fixedLatencyStandIn, simulatedInferenceEnv } from './hooks/simulated-inference';
import { connectClients, driveClients } from './load-driver';
import { stopWorker } from './process-metrics';
import { scalingChartSvg } from './scaling-chart';
import {
  alwaysOnReplicaSeconds,
  defaultAutoscaler,
  simulateScaling,
  type LoadPhase,
  type SimulationResult,
  type WorkerModel,
} from './scaling-sim';
import type { BenchContext, ScenarioResult } from './scenario';

const MODEL = 'null-depth';
/** The fixed-latency worker of `horizontal-scaling`'s one slot: a GPU-like pod whose throughput does not depend on this machine's 2 cores. */
const SIMULATED_INFERENCE_MS = 50;
const CLIENTS = 8;
const BURST_MULTIPLE = 10;
/**
 * The trigger's threshold: backlog (waiting + active) per pod. A simulated pod serves one job at a
 * time, so 1 keeps one pod per job in service; a larger one (slack for a queue wait) settles only
 * while jobs wait, and the `thresholdWithSlack` variant shows the sawtooth that follows.
 */
const THRESHOLD = 1;
const SLACK_WAIT_SECONDS = 1;
/** The burst's first minute is reported apart: it holds the cold start and the scale-up. */
const BURST_FIRST_SECONDS = 60;
/** Pod scheduling, image pull and container start on a fresh node: not measurable here, so a stated assumption for one variant. */
const COLD_NODE_EXTRA_SECONDS = 60;

/**
 * KEDA + the HPA replayed over a bursty curve (idle → 10× → idle), with the per-worker throughput
 * and start-up time measured here first on the real stack (bench/scaling-sim.ts has the model and
 * its sources). 1× is one worker's measured throughput, so the burst needs 10 of them.
 */
export async function scalingScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const measured = await measureWorker(ctx.quick);
  const worker: WorkerModel = { jobsPerSecond: measured.jobsPerSecond, startupSeconds: measured.startupSeconds };
  const phases: LoadPhase[] = [
    // 310 s, not 300: a burst that began on a scrape and a KEDA poll at once would be seen at once, the best case;
    // this one is scraped 5 s and polled 20 s after it begins.
    { name: 'idle before', seconds: 310, jobsPerSecond: 0 },
    { name: `${BURST_MULTIPLE}× burst, first minute`, seconds: BURST_FIRST_SECONDS, jobsPerSecond: BURST_MULTIPLE * worker.jobsPerSecond },
    { name: `${BURST_MULTIPLE}× burst, after`, seconds: 600 - BURST_FIRST_SECONDS, jobsPerSecond: BURST_MULTIPLE * worker.jobsPerSecond },
    // Long enough for the HPA's 300 s scale-down window and KEDA's 300 s cooldown to play out.
    { name: 'idle after', seconds: 890, jobsPerSecond: 0 },
  ];
  const targetValue = THRESHOLD;
  const slackTarget = THRESHOLD + Math.round(worker.jobsPerSecond * SLACK_WAIT_SECONDS);
  const started = performance.now();
  const variants: Record<string, SimulationResult> = {
    kedaDefaults: simulateScaling(phases, worker, defaultAutoscaler(targetValue)),
    minReplicas1: simulateScaling(phases, worker, { ...defaultAutoscaler(targetValue), minReplicaCount: 1 }),
    coldNode: simulateScaling(
      phases,
      { ...worker, startupSeconds: worker.startupSeconds + COLD_NODE_EXTRA_SECONDS },
      defaultAutoscaler(targetValue),
    ),
    thresholdWithSlack: simulateScaling(phases, worker, defaultAutoscaler(slackTarget)),
  };
  const simulationSeconds = round1((performance.now() - started) / 1000);
  const alwaysOn = alwaysOnReplicaSeconds(phases, worker);

  const main = variants.kedaDefaults!;
  const svg = scalingChartSvg({
    timeline: main.timeline,
    perReplicaJobsPerSecond: worker.jobsPerSecond,
    title: `KEDA + HPA defaults, idle → ${BURST_MULTIPLE}× → idle (simulated with measured worker figures)`,
    subtitle: [
      `one pod ${worker.jobsPerSecond} jobs/s (measured), start-up ${worker.startupSeconds} s (measured); trigger threshold ${targetValue} job per pod`,
      `queue wait p95 ${main.phases[1]!.p95Seconds} s in the burst's first minute, ${main.phases[2]!.p95Seconds} s after; ${main.replicaSeconds} pod-seconds against ${alwaysOn.replicaSeconds} always-on`,
    ],
  });
  const root = repoRoot();
  mkdirSync(join(root, 'reports', 'bench'), { recursive: true });
  writeFileSync(join(root, 'reports', 'bench', 'scaling-simulation.svg'), svg);
  // Like the results table, the committed chart changes only on runs that measure in full.
  if (!ctx.quick) writeFileSync(join(root, 'docs', 'scaling-simulation.svg'), svg);

  const figures: Record<string, unknown> = {
    perWorkerJobsPerSecond: worker.jobsPerSecond,
    workerStartupSeconds: { median: worker.startupSeconds, samples: measured.startupSamples.join(' / ') },
    loadJobsPerSecond: { idle: 0, burst: round1(phases[1]!.jobsPerSecond) },
    alwaysOnForPeak: { replicas: alwaysOn.replicas, replicaSeconds: alwaysOn.replicaSeconds },
    simulationSeconds,
  };
  for (const [name, result] of Object.entries(variants)) {
    figures[name] = {
      ...Object.fromEntries(
        result.phases
          .filter((p) => p.jobs > 0)
          .map((p) => [`wait ${p.name}`, `p50 ${p.p50Seconds} s, p95 ${p.p95Seconds} s, max ${p.maxSeconds} s`]),
      ),
      coldStartSeconds: result.coldStartSeconds,
      peakReplicas: result.peakReplicas,
      secondsToZeroAfterBurst: Number.isNaN(result.secondsToZeroAfterPeak) ? 'never' : result.secondsToZeroAfterPeak,
      replicaSeconds: result.replicaSeconds,
      idleReplicaSeconds: result.idleReplicaSeconds,
      costVsAlwaysOn: Math.round((result.replicaSeconds / alwaysOn.replicaSeconds) * 100) / 100,
      replicasOverTime: replicaChanges(result),
    };
  }
  return {
    scenario: 'scaling',
    model: `${MODEL}@1.0.0`,
    standIn: `fixed-latency model standing in for a GPU: ${fixedLatencyStandIn(SIMULATED_INFERENCE_MS)}`,
    command: ctx.command,
    setup: {
      measured: `on the real stack: one worker (1 inference thread, ${SIMULATED_INFERENCE_MS} ms fixed latency), ${CLIENTS} closed-loop socket.io clients, ${measured.jobs} jobs after ${CLIENTS * 2} warm-up; start-up = spawn → the worker's "worker ready" log line (Node start, Redis connect, model load), ${measured.startupSamples.length} spawns`,
      notMeasured: `pod scheduling, image pull and container start: the coldNode variant adds ${COLD_NODE_EXTRA_SECONDS} s as an assumption`,
      load:
        phases.map((p) => `${p.name} ${p.seconds} s at ${round1(p.jobsPerSecond)} jobs/s`).join(', ') +
        ' (1× = one worker’s measured throughput; arrivals evenly spaced)',
      trigger: `queue backlog (waiting + active, e.g. sum(fathom_queue_jobs{state=~"waiting|active"})) scraped every 15 s, threshold ${targetValue} per pod (the jobs one simulated pod holds; WORKER_CONCURRENCY for a real one), activationThreshold 0`,
      autoscaler:
        'KEDA defaults (pollingInterval 30 s, cooldownPeriod 300 s, minReplicaCount 0, maxReplicaCount 100) and the HPA defaults (sync 15 s, tolerance 0.1, up: max(100 %, 4 pods) per 15 s, no window; down: 300 s window, 100 % per 15 s); sources in bench/scaling-sim.ts',
      variants: `kedaDefaults; minReplicas1 (minReplicaCount 1: never cold); coldNode (start-up + ${COLD_NODE_EXTRA_SECONDS} s); thresholdWithSlack (threshold ${slackTarget} = 1 + ${SLACK_WAIT_SECONDS} s of one pod's throughput)`,
      chart: 'docs/scaling-simulation.svg (kedaDefaults), reports/bench/scaling-simulation.svg on every run',
    },
    figures,
  };
}

/** Replica count at each change, as `minute:second → pods`. */
function replicaChanges(result: SimulationResult): string {
  const changes = result.timeline.filter((s, i, all) => i === 0 || s.replicas !== all[i - 1]!.replicas);
  return changes.map((s) => `${Math.floor(s.second / 60)}:${String(s.second % 60).padStart(2, '0')} ${s.replicas}`).join(', ');
}

async function measureWorker(
  quick: boolean,
): Promise<{ jobsPerSecond: number; startupSeconds: number; startupSamples: number[]; jobs: number }> {
  const modelsDir = depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT);
  const env = {
    MODELS_DIR: modelsDir,
    WORKER_BUILTIN_MODELS: 'false',
    WORKER_INFERENCE_THREADS: '1',
    ...simulatedInferenceEnv(SIMULATED_INFERENCE_MS),
  };
  const image = await greyBenchImage();
  const jobs = quick ? 60 : 200;
  const stack = await FathomStack.start();
  try {
    // The API first, so it takes no CPU from the workers' start-ups being timed.
    await stack.startApi(LOAD_TEST_LIMITS_ENV);
    const startupSamples: number[] = [];
    for (let i = 0; i < (quick ? 1 : 3); i++) {
      const spawned = performance.now();
      const worker = await stack.startWorker(env);
      startupSamples.push(round1((performance.now() - spawned) / 1000));
      await stopWorker(worker);
    }
    const worker = await stack.startWorker(env);
    const clients = await connectClients(stack.api, MODEL, 'socket', CLIENTS);
    try {
      await driveClients(clients, [image], CLIENTS * 2);
      const run = await driveClients(clients, [image], jobs);
      return { jobsPerSecond: round1(jobs / run.seconds), startupSeconds: median(startupSamples), startupSamples, jobs };
    } finally {
      for (const client of clients) client.close();
      await stopWorker(worker);
    }
  } finally {
    await stack.stop();
  }
}
