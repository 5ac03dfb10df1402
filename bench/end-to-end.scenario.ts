import { FathomStack, LOAD_TEST_LIMITS_ENV } from '../test/support/fathom-stack';
import type { BenchImageSet } from './bench-images';
import { median, percentile, round1 } from './bench-stats';
import { CEILING_MODEL, DEPTH_STAND_IN, benchPasses, builtinSpec } from './ceiling.scenario';
import { drive, jobStatus, ROUTE_DESCRIPTION, type DriverRoute } from './load-driver';
import type { BenchContext, ScenarioResult } from './scenario';

const TARGET_RATIO = 0.9;
/** The scenario: clients submit over REST and hear the end over socket.io. */
const ROUTE: DriverRoute = 'socket';

/**
 * The real API + Redis + one worker (default settings) at saturation with the ceiling's model and
 * images: a few clients keep it busy, so its rate can be set against the ceiling's.
 */
export async function endToEndScenario(ctx: BenchContext, set: BenchImageSet, ceilingImagesPerSecond: number): Promise<ScenarioResult> {
  const spec = builtinSpec(CEILING_MODEL);
  const clients = 4;
  const passes = benchPasses(ctx.quick);
  const jobs = passes * set.images.length;
  const stack = await FathomStack.start();
  try {
    await stack.startApi(LOAD_TEST_LIMITS_ENV);
    await stack.startWorker({ WORKER_MODELS: spec.name });
    await drive(stack.api, spec.name, set.images.slice(0, 2), 2, 2, ROUTE); // warm-up, as the ceiling's
    const run = await drive(stack.api, spec.name, set.images, jobs, clients, ROUTE);
    const walls = run.samples.map((s) => s.wallMs);
    const statuses = await Promise.all(run.samples.map((s) => jobStatus(stack.api, s.jobId)));
    const timing = (key: 'queueWait' | 'inference' | 'total') => round1(median(statuses.map((s) => s.timings?.[key] ?? NaN)));
    const jobsPerSecond = Math.round((jobs / run.seconds) * 100) / 100;
    const ratio = Math.round((jobsPerSecond / ceilingImagesPerSecond) * 100) / 100;
    return {
      scenario: 'end-to-end',
      model: `${spec.name}@${spec.version}`,
      standIn: DEPTH_STAND_IN,
      command: ctx.command,
      setup: {
        images: set.source,
        passes,
        clients,
        workers: 1,
        route: ROUTE_DESCRIPTION[ROUTE],
        workerEnv: 'defaults (WORKER_CONCURRENCY auto = 2, 1 inference thread)',
      },
      figures: {
        jobsPerSecond,
        jobs,
        seconds: round1(run.seconds),
        p50Ms: round1(median(walls)),
        p95Ms: round1(percentile(walls, 95)),
        p99Ms: round1(percentile(walls, 99)),
        medianQueueWaitMs: timing('queueWait'),
        medianInferenceMs: timing('inference'),
        ceilingImagesPerSecond,
        ratioToCeiling: ratio,
      },
      targets: [{ figure: 'ratioToCeiling', target: `≥ ${TARGET_RATIO}`, value: ratio, met: ratio >= TARGET_RATIO }],
    };
  } finally {
    await stack.stop();
  }
}
