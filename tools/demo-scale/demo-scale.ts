/**
 * `npm run demo:scale [-- --fast] [-- --out chart.png]`: Fathom scaling out while it runs. A private
 * redis-server, the API and one worker; a steady stream of jobs above what one worker can do; more
 * workers join mid-run. Once a second it prints the workers serving, the jobs completed and the
 * queue; at the end it draws both over time to docs/demo-scale.png.
 *
 * The workers serve a fixed-latency model (50 ms per inference without using the CPU), standing in
 * for GPU workers: on a 2-core machine, adding workers whose inference is CPU-bound could not add
 * throughput, so the demo shows what adding accelerator workers does.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import type { JobAccepted } from '@fathom/contracts';
import { repoRoot } from '@fathom/testing';
import { simulatedInferenceEnv } from '../../bench/hooks/simulated-inference';
import {
  depthModelsDir,
  FathomStack,
  LOAD_TEST_LIMITS_ENV,
  nextEvent,
  NULL_MODEL_INPUT,
  submit,
  type JobsSocket,
} from '../../test/support/fathom-stack';
import { CHART_HEIGHT, CHART_WIDTH, scaleChartSvg, type SecondSample } from './scale-chart';

const MODEL = 'fixed-latency';
const SIMULATED_INFERENCE_MS = 50;

interface Plan {
  durationSeconds: number;
  /** Seconds the run goes on after the last worker joined, however long its start took. */
  afterLastJoinSeconds: number;
  /** Seconds from the start of the load at which one more worker is started. */
  addWorkersAt: number[];
  offeredPerSecond: number;
}

/** One worker (one inference slot) does about 17–20 jobs/s: 30/s overloads one, two nearly keep up, three drain the backlog. */
const FULL: Plan = { durationSeconds: 32, afterLastJoinSeconds: 8, addWorkersAt: [10, 20], offeredPerSecond: 30 };
/** For the e2e test: one worker added at 3 s. */
const FAST: Plan = { durationSeconds: 8, afterLastJoinSeconds: 3, addWorkersAt: [3], offeredPerSecond: 30 };

const USAGE = 'usage: npm run demo:scale [-- [--fast] [--out chart.png]]';

function parseArgs(args: string[]): { plan: Plan; out: string } {
  let plan = FULL;
  let out = join(repoRoot(), 'docs', 'demo-scale.png');
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--fast') plan = FAST;
    else if (arg === '--out' && args[i + 1]) out = resolve(args[++i]!);
    else throw new Error(`unknown argument ${arg}; ${USAGE}`);
  }
  return { plan, out };
}

/** Sum of a metric's series whose labels include every `labels` pair, from a Prometheus text exposition. */
export function metricSum(exposition: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  return exposition
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && wanted.every((pair) => line.slice(0, line.lastIndexOf('}')).includes(pair)))
    .reduce(
      (sum, line) =>
        sum +
        Number(
          line
            .slice(line.lastIndexOf('}') + 1)
            .trim()
            .split(' ')[0],
        ),
      0,
    );
}

const pad = (value: number | string, width: number): string => String(value).padStart(width);

async function main(): Promise<void> {
  const { plan, out } = parseArgs(process.argv.slice(2));
  console.log(
    [
      'Fathom scale demo: a private redis-server, the API and one worker, then more workers while jobs keep coming.',
      `The workers serve a fixed-latency model (${SIMULATED_INFERENCE_MS} ms per inference, using no CPU) that stands in for GPU workers:`,
      'on this machine’s CPU cores, adding workers whose inference is CPU-bound could not add throughput.',
      `Load: ${plan.offeredPerSecond} jobs/s submitted at a steady rate (POST /v1/jobs, completion heard over socket.io); one worker does about ${1000 / SIMULATED_INFERENCE_MS} jobs/s at best.`,
      `A worker is added at ${plan.addWorkersAt.map((s) => `${s} s`).join(' and ')}; the run lasts ${plan.durationSeconds} s (longer if a worker is slow to start).`,
      '',
    ].join('\n'),
  );
  const stack = await FathomStack.start();
  process.once('SIGINT', () => void stack.stop().finally(() => process.exit(130)));
  try {
    const workerEnv = {
      MODELS_DIR: depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT),
      WORKER_BUILTIN_MODELS: 'false',
      WORKER_INFERENCE_THREADS: '1',
      ...simulatedInferenceEnv(SIMULATED_INFERENCE_MS),
    };
    await Promise.all([stack.startApi(LOAD_TEST_LIMITS_ENV), stack.startWorker(workerEnv)]);
    console.log(`started: redis-server ${stack.redis.url}, API ${stack.api.url}, worker 1\n`);
    const socket = await stack.connect();
    const image = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#406080' } })
      .png()
      .toBuffer();
    const samples = await runLoad(stack, socket, image, plan, workerEnv);
    const joins = samples.joins;

    // With jobs waiting, the workers never idle: those seconds show what they can do, not what was offered.
    console.log('\nThroughput while jobs were waiting, by workers serving (the first second after each change left out):');
    const byWorkers = new Map<number, number[]>();
    samples.seconds.forEach((sample, i) => {
      if (i > 0 && samples.seconds[i - 1]!.workers === sample.workers && sample.waiting > 0)
        byWorkers.set(sample.workers, [...(byWorkers.get(sample.workers) ?? []), sample.completedPerSecond]);
    });
    for (const [workers, rates] of [...byWorkers].sort(([a], [b]) => a - b)) {
      console.log(
        `  ${workers} worker${workers === 1 ? ': ' : 's:'} ${(rates.reduce((sum, r) => sum + r, 0) / rates.length).toFixed(1)} jobs/s`,
      );
    }
    const peak = samples.seconds.reduce((best, s) => (s.waiting > best.waiting ? s : best), samples.seconds[0]!);
    const cleared = samples.seconds.find((s) => s.second > peak.second && s.waiting === 0);
    console.log(
      `Queue: at most ${peak.waiting} waiting (t=${peak.second} s); ` +
        (cleared
          ? `empty from t=${cleared.second} s, then completions match the ${plan.offeredPerSecond} jobs/s offered.`
          : `${samples.seconds.at(-1)!.waiting} still waiting at the end.`),
    );

    const svg = scaleChartSvg({
      samples: samples.seconds,
      workerJoins: joins,
      offeredPerSecond: plan.offeredPerSecond,
      durationSeconds: samples.seconds.length,
      title: `Fathom adding workers under a steady ${plan.offeredPerSecond} jobs/s (${SIMULATED_INFERENCE_MS} ms model as a GPU stand-in)`,
    });
    mkdirSync(dirname(out), { recursive: true });
    await sharp(Buffer.from(svg)).png().toFile(out);
    console.log(`Chart (${CHART_WIDTH}×${CHART_HEIGHT}): ${relative(process.cwd(), out) || out}`);
  } finally {
    await stack.stop();
  }
}

/**
 * Submits `offeredPerSecond` jobs a second whatever the service does (an open loop), counts the
 * completions heard on the socket per second, reads the queue and the workers from the API's
 * /metrics at the end of every second, and starts workers on the plan's schedule.
 */
async function runLoad(
  stack: FathomStack,
  socket: JobsSocket,
  image: Buffer,
  plan: Plan,
  workerEnv: Record<string, string>,
): Promise<{ seconds: SecondSample[]; joins: Array<{ second: number; workers: number }> }> {
  const ours = new Set<string>();
  const completedAt: number[] = [];
  let started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  socket.on('job.completed', (event) => {
    if (ours.delete(event.jobId)) completedAt.push(elapsed());
  });
  let failure: Error | undefined;
  const submitOne = async () => {
    const response = await submit(stack.api, { image, model: MODEL });
    if (response.status !== 202) throw new Error(`POST /v1/jobs answered ${response.status}: ${await response.text()}`);
    const { id } = (await response.json()) as JobAccepted;
    ours.add(id);
    socket.emit('subscribe', { jobId: id });
    return id;
  };
  // Warm-up (connections, JIT) before the clock starts.
  for (let i = 0; i < 5; i++) {
    const id = await submitOne();
    await nextEvent(socket, 'job.completed', (event) => event.jobId === id, 30_000);
  }

  started = performance.now();
  completedAt.length = 0;
  let sent = 0;
  const pending = new Set<Promise<unknown>>();
  const arrivals = setInterval(() => {
    for (const due = Math.floor(elapsed() * plan.offeredPerSecond); sent < due; sent++) {
      const request = submitOne()
        .catch((error: Error) => void (failure ??= error))
        .finally(() => pending.delete(request));
      pending.add(request);
    }
  }, 10);

  const joins: Array<{ second: number; workers: number }> = [];
  const additions = plan.addWorkersAt
    .map(async (at, i) => {
      await new Promise((resolve) => setTimeout(resolve, at * 1000 - (performance.now() - started)));
      console.log(`  + t=${elapsed().toFixed(1)} s: starting worker ${i + 2}`);
      await stack.startWorker(workerEnv);
      joins.push({ second: elapsed(), workers: i + 2 });
      console.log(`  + t=${elapsed().toFixed(1)} s: worker ${i + 2} is taking jobs (started in ${(elapsed() - at).toFixed(1)} s)`);
    })
    .map((addition) => addition.catch((error: Error) => void (failure ??= error)));

  const seconds: SecondSample[] = [];
  try {
    // A worker's start takes CPU from the others on a small machine: wait for the last one to serve a while.
    const lastJoin = () => (joins.length === plan.addWorkersAt.length ? joins.at(-1)!.second : Infinity);
    for (let second = 1; second <= plan.durationSeconds || second <= lastJoin() + plan.afterLastJoinSeconds; second++) {
      if (second > plan.durationSeconds + 60) throw new Error(`the workers added were not all serving within 60 s of the planned end`);
      await new Promise((resolve) => setTimeout(resolve, second * 1000 - (performance.now() - started)));
      if (failure) throw failure;
      const metrics = await (await fetch(stack.api.metricsUrl)).text();
      const sample: SecondSample = {
        second,
        completedPerSecond: completedAt.filter((t) => t >= second - 1 && t < second).length,
        waiting: metricSum(metrics, 'fathom_queue_jobs', { model: MODEL, state: 'waiting' }),
        workers: metricSum(metrics, 'fathom_workers_online', { model: MODEL }),
      };
      seconds.push(sample);
      console.log(
        `t=${pad(second, 3)} s   workers ${pad(sample.workers, 2)}   completed ${pad(sample.completedPerSecond, 3)} jobs/s   queue ${pad(sample.waiting, 4)} waiting`,
      );
    }
  } finally {
    clearInterval(arrivals);
    await Promise.all([...pending, ...additions]);
  }
  return { seconds, joins };
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(`demo:scale: ${error.message}`);
    process.exit(1);
  },
);
