import sharp from 'sharp';
import { depthModelsDir, FathomStack, LOAD_TEST_LIMITS_ENV, NULL_MODEL_INPUT } from '../test/support/fathom-stack';
import { median, percentile, round1 } from './bench-stats';
import { connectClients, drive, driveClients, jobStatus, ROUTE_DESCRIPTION, type DriverRoute } from './load-driver';
import { redisInfo } from './process-metrics';
import { cpuMsPerJob, cpuSnapshot } from './process-stats';
import type { BenchContext, ScenarioResult } from './scenario';

const MODEL = 'null-depth';
const TARGET_JOBS_PER_SECOND = 1000;
const TARGET_ADDED_P50_MS = 5;
/** The scenario: clients submit over REST and hear the end over socket.io. */
const ROUTE: DriverRoute = 'socket';

/**
 * What the service costs around a model that costs nothing: jobs/s at saturation, and at low load
 * the latency a client sees beyond the worker's own time.
 */
export async function serviceOverheadScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const clients = 16;
  const lowLoadJobs = ctx.quick ? 30 : 300;
  const saturationJobs = ctx.quick ? 160 : 2000;
  const workerEnv = {
    MODELS_DIR: depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT),
    WORKER_BUILTIN_MODELS: 'false',
    WORKER_CONCURRENCY: String(clients),
  };
  const image = {
    name: 'noise-64x48.png',
    bytes: await sharp({
      create: { width: 64, height: 48, channels: 3, background: '#406080', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
    })
      .png()
      .toBuffer(),
  };
  const stack = await FathomStack.start();
  try {
    await stack.startApi(LOAD_TEST_LIMITS_ENV);
    await stack.startWorker(workerEnv);
    await drive(stack.api, MODEL, [image], ctx.quick ? 20 : 50, clients, ROUTE); // warm-up: sessions, JIT, connections

    // Low load: one client, one job at a time; the status is read after the timed request.
    const outsideTotal: number[] = [];
    const added: number[] = [];
    const walls: number[] = [];
    const inWorker: number[] = [];
    const [lone] = await connectClients(stack.api, MODEL, ROUTE, 1);
    try {
      for (let i = 0; i < lowLoadJobs; i++) {
        const sample = await lone!.run(image);
        const timings = (await jobStatus(stack.api, sample.jobId)).timings;
        if (!timings) throw new Error(`job ${sample.jobId} has no timings`);
        const compute = timings.decode + timings.preprocess + timings.inference + timings.postprocess + timings.encode;
        walls.push(sample.wallMs);
        inWorker.push(compute);
        outsideTotal.push(sample.wallMs - timings.total);
        added.push(sample.wallMs - compute);
      }
    } finally {
      lone!.close();
    }

    // Where the CPU goes at saturation: each process's CPU time over the run, per job.
    const pids = {
      api: stack.api.process.child.pid,
      worker: stack.workers[0]!.child.pid,
      redis: (await redisInfo(stack.redis.url)).pid,
      driver: process.pid,
    };
    const cpu = () => cpuSnapshot(pids);
    const connected = await connectClients(stack.api, MODEL, ROUTE, clients);
    const before = cpu();
    const saturation = await driveClients(connected, [image], saturationJobs).finally(() => connected.forEach((c) => c.close()));
    const cpuPerJob = cpuMsPerJob(before, cpu(), saturationJobs);
    const saturationWalls = saturation.samples.map((s) => s.wallMs);
    const jobsPerSecond = Math.round(saturationJobs / saturation.seconds);
    const addedP50 = round1(median(added));
    return {
      scenario: 'service-overhead',
      model: `${MODEL}@1.0.0`,
      standIn: 'null model: the generated depth stand-in (mean of the channels) at a fixed 28×28 input, well under 1 ms',
      command: ctx.command,
      setup: {
        image: '64×48 PNG',
        lowLoad: { clients: 1, jobs: lowLoadJobs },
        saturation: { clients, jobs: saturationJobs },
        route: ROUTE_DESCRIPTION[ROUTE],
        workerEnv: { WORKER_CONCURRENCY: clients },
        processes: 'API, worker, redis-server and this driver on the same cores',
      },
      figures: {
        jobsPerSecond,
        saturationP50Ms: round1(median(saturationWalls)),
        saturationP99Ms: round1(percentile(saturationWalls, 99)),
        saturationCpuMsPerJob: cpuPerJob,
        lowLoadP50WallMs: round1(median(walls)),
        lowLoadP50InWorkerComputeMs: round1(median(inWorker)),
        addedP50Ms: addedP50,
        outsideWorkerTotalP50Ms: round1(median(outsideTotal)),
      },
      targets: [
        {
          figure: 'jobsPerSecond',
          target: `≥ ${TARGET_JOBS_PER_SECOND}`,
          value: jobsPerSecond,
          met: jobsPerSecond >= TARGET_JOBS_PER_SECOND,
        },
        { figure: 'addedP50Ms', target: `≤ ${TARGET_ADDED_P50_MS}`, value: addedP50, met: addedP50 <= TARGET_ADDED_P50_MS },
      ],
    };
  } finally {
    await stack.stop();
  }
}
