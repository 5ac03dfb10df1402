import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { inferenceQueueName } from '@fathom/contracts';
import { repoRoot, spawnNodeProcess } from '@fathom/testing';
import { intraOpThreads, loadWorkerConfig } from '../apps/worker/src/config/worker.config';
import { FathomStack, LOAD_TEST_LIMITS_ENV, type ApiInstance } from '../test/support/fathom-stack';
import type { BenchImageSet } from './bench-images';
import { median, percentile, round1 } from './bench-stats';
import { CEILING_MODEL, DEPTH_STAND_IN, benchPasses, builtinSpec } from './ceiling.scenario';
import { JobEnds, waitForEmptyQueue } from './peers/job-ends';
import { redisInfo } from './process-metrics';
import { cpuMsPerJob, cpuSeconds, peakRssMiB } from './process-stats';
import { closedLoop, openLoop, type Attempt, type HttpTarget, type LoadRun, type OpenLoopRun } from './peers/open-loop';
import type { BenchContext, ScenarioResult } from './scenario';

/** Closed-loop clients at saturation, as end-to-end uses. */
const CLIENTS = 4;
const OVERLOAD_FACTOR = 2;
/** The bar: Fathom serves at least what the one-process server serves. */
const TARGET_THROUGHPUT_RATIO = 1;

interface Plan {
  /** Requests per closed-loop saturation run. */
  requests: (images: number) => number;
  /** Images sent once to each server before it is timed. */
  warmUp: number;
  overloadSeconds: number;
  clientTimeoutMs: number;
  /** Below the client's timeout, so a slow job answers 202 (with its links) before the client gives up. */
  apiInferTimeoutMs: number;
  /** API_MAX_QUEUE_DEPTH = this many seconds of Fathom's measured saturation rate. */
  queueSeconds: number;
  /** The asynchronous route's overload run (full runs only: it doubles the time). */
  jobsRoute: boolean;
}

/** Full: every image as often as end-to-end sends it; overload as long as the client's timeout. */
const FULL: Plan = {
  requests: (n) => benchPasses(false) * n,
  warmUp: 2,
  overloadSeconds: 30,
  clientTimeoutMs: 30_000,
  apiInferTimeoutMs: 25_000,
  queueSeconds: 5,
  jobsRoute: true,
};
/** Quick: every step, briefly (one request per client at saturation). */
const QUICK: Plan = {
  requests: () => CLIENTS,
  warmUp: 1,
  overloadSeconds: 1,
  clientTimeoutMs: 2_000,
  apiInferTimeoutMs: 1_500,
  queueSeconds: 1,
  jobsRoute: false,
};

const wall = (a: Attempt) => a.settledMs - a.sentMs;

/** This process's CPU seconds: the load generator's own cost. */
function clientCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

function saturation(run: LoadRun): { perSecond: number; p50Ms: number; p95Ms: number } {
  const failed = run.attempts.filter((a) => a.outcome !== 'ok');
  if (failed.length > 0)
    throw new Error(
      `${failed.length} of ${run.attempts.length} requests failed at saturation: ${failed[0]!.outcome} ${failed[0]!.detail ?? failed[0]!.status ?? ''}`,
    );
  const walls = run.attempts.map(wall);
  return {
    perSecond: Math.round((run.attempts.length / run.seconds) * 100) / 100,
    p50Ms: round1(median(walls)),
    p95Ms: round1(percentile(walls, 95)),
  };
}

/** Counts a user would care about; latency of the requests answered with the artifact. */
function overloadFigures(run: OpenLoopRun, windowSeconds: number) {
  const count = (outcome: Attempt['outcome']) => run.attempts.filter((a) => a.outcome === outcome).length;
  const ok = run.attempts.filter((a) => a.outcome === 'ok');
  const refused = run.attempts.filter((a) => a.outcome === 'refused');
  const errors = new Map<string, number>();
  for (const a of run.attempts.filter((x) => x.outcome === 'error')) errors.set(a.detail ?? '?', (errors.get(a.detail ?? '?') ?? 0) + 1);
  const lastOk = Math.max(0, ...ok.map((a) => a.settledMs));
  // How the wait grows while the overload lasts: the p50 of the artifacts, by when they were asked for.
  const third = (windowSeconds * 1000) / 3;
  const thirdOf = (a: Attempt) => Math.min(2, Math.floor(a.sentMs / third));
  const label = (i: number) => `sent${round1((i * third) / 1000)}to${round1(((i + 1) * third) / 1000)}s`;
  const byThird = Object.fromEntries([0, 1, 2].map((i) => [label(i), round1(median(ok.filter((a) => thirdOf(a) === i).map(wall)))]));
  const timedOutByThird = Object.fromEntries(
    [0, 1, 2].map((i) => [label(i), run.attempts.filter((a) => a.outcome === 'timeout' && thirdOf(a) === i).length]),
  );
  return {
    sent: run.attempts.length,
    sentPerSecond: run.sentPerSecond,
    ok: ok.length,
    accepted202: count('accepted'),
    refusedWithRetryAfter: refused.filter((a) => a.retryAfter !== undefined).length,
    refusedWithoutRetryAfter: refused.filter((a) => a.retryAfter === undefined).length,
    errors: count('error'),
    timedOut: count('timeout'),
    timedOutBySendTime: timedOutByThird,
    okP50Ms: round1(median(ok.map(wall))),
    okP95Ms: round1(percentile(ok.map(wall), 95)),
    okP50MsBySendTime: byThird,
    /** Artifacts delivered per second, from the first request to the last artifact. */
    okPerSecond: lastOk > 0 ? Math.round((ok.length / (lastOk / 1000)) * 100) / 100 : 0,
    inFlightWhenSendingStopped: run.inFlightAtEnd,
    maxSendLagMs: run.maxSendLagMs,
    seconds: round1(run.seconds),
    ...(errors.size > 0 ? { errorKinds: Object.fromEntries([...errors].slice(0, 3).map(([k, v]) => [k.slice(0, 80), v])) } : {}),
  };
}

/**
 * Fathom at overload on one route: the open-loop run, then every accepted job followed to its end
 * over socket.io (as a client would), so a job accepted and never finished cannot go unseen.
 */
async function fathomOverload(
  stack: FathomStack,
  api: ApiInstance,
  path: '/v1/infer' | '/v1/jobs',
  model: string,
  images: BenchImageSet['images'],
  rate: number,
  plan: Plan,
) {
  const socket = await stack.connect(api);
  const runStarted = performance.now();
  const ends = new JobEnds(socket, runStarted);
  const target: HttpTarget = { url: `${api.url}${path}`, fields: { model } };
  const run = await openLoop(target, images, rate, plan.overloadSeconds, plan.clientTimeoutMs, {
    started: runStarted,
    onSettled: (a) => a.outcome === 'accepted' && a.jobId !== undefined && ends.watch(a.jobId),
  });
  const accepted = run.attempts.filter((a) => a.outcome === 'ok' || a.outcome === 'accepted');
  const neverEnded = await ends.settle(plan.clientTimeoutMs * 4);
  // An artifact answer is a completed job; a 202 is followed to its end.
  const completed = accepted.filter((a) => a.outcome === 'ok' || ends.ends.get(a.jobId ?? '')?.state === 'completed');
  const acceptedEndMs = accepted
    .map((a) => (a.outcome === 'ok' ? a.settledMs : (ends.ends.get(a.jobId ?? '')?.atMs ?? NaN)) - a.sentMs)
    .filter(Number.isFinite);
  return {
    ...overloadFigures(run, plan.overloadSeconds),
    accepted: accepted.length,
    acceptedCompleted: completed.length,
    acceptedNotCompleted: accepted.length - completed.length,
    acceptedNeverEnded: neverEnded.length,
    /** Submit → artifact (200) or → job.completed heard (202), for every accepted request. */
    acceptedToEndP50Ms: round1(median(acceptedEndMs)),
    acceptedToEndP95Ms: round1(percentile(acceptedEndMs, 95)),
  };
}

/**
 * Scenario 6a of the issue: the original app's design (one synchronous express + multer + sharp +
 * onnxruntime-node process, bench/peers/express-peer.server.ts) against Fathom (API + Redis + one
 * worker at its defaults), same model, images, cores and ORT threads. Throughput at saturation
 * with closed-loop clients, then 2× the higher of the two rates offered open-loop (fixed arrivals)
 * for a fixed time with a client timeout: what was answered, refused, lost or left hanging.
 */
export async function peerExpressScenario(ctx: BenchContext, set: BenchImageSet): Promise<ScenarioResult> {
  const plan = ctx.quick ? QUICK : FULL;
  const spec = builtinSpec(CEILING_MODEL);
  const config = loadWorkerConfig({ ...process.env, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
  const threads = intraOpThreads(config);
  const requests = plan.requests(set.images.length);
  /** The 1-minute load average as each step starts: the machine is shared, and this shows by how much. */
  const load: Record<string, number> = {};
  const mark = (step: string) => (load[step] = round1(loadavg()[0] ?? NaN));
  const warmUp = set.images.slice(0, plan.warmUp);

  const peer = spawnNodeProcess(join(repoRoot(), 'dist/bench/peers/express-peer.server.js'), {
    PEER_MODEL_SPEC: JSON.stringify(spec),
    ORT_INTRA_OP_THREADS: String(threads),
    PEER_MAX_PIXELS: String(config.IMAGE_MAX_PIXELS),
  });
  const stack = await FathomStack.start();
  let stackStopped = false;
  const stopStack = async () => {
    if (stackStopped) return;
    stackStopped = true;
    await stack.stop();
  };
  try {
    // Everything starts together (Fathom's processes then sit idle while the peer is measured).
    const [peerListening, firstApi] = await Promise.all([
      peer.waitForLine(/"msg":"peer listening"/, 30_000),
      stack.startApi(LOAD_TEST_LIMITS_ENV),
      stack.startWorker({ WORKER_MODELS: spec.name }),
    ]);
    const peerTarget: HttpTarget = { url: `${(JSON.parse(peerListening) as { url: string }).url}/infer` };
    await closedLoop(peerTarget, warmUp, warmUp.length, warmUp.length, 60_000);
    mark('peerSaturation');
    const peerCpu = () => ({ peer: cpuSeconds(peer.child.pid), client: clientCpuSeconds() });
    const peerCpuBefore = peerCpu();
    const peerSaturation = saturation(await closedLoop(peerTarget, set.images, requests, CLIENTS, 120_000));
    const peerCpuMs = cpuMsPerJob(peerCpuBefore, peerCpu(), requests);

    // Fathom's saturation with the API at its defaults: a 4-client load never fills any queue.
    const fathomTarget: HttpTarget = { url: `${firstApi.url}/v1/infer`, fields: { model: spec.name } };
    await closedLoop(fathomTarget, warmUp, warmUp.length, warmUp.length, 60_000);
    mark('fathomSaturation');
    const redisPid = (await redisInfo(stack.redis.url)).pid;
    const fathomCpu = () => ({
      api: cpuSeconds(firstApi.process.child.pid),
      worker: cpuSeconds(stack.workers[0]?.child.pid),
      redis: cpuSeconds(redisPid),
      client: clientCpuSeconds(),
    });
    const fathomCpuBefore = fathomCpu();
    const fathomSaturation = saturation(await closedLoop(fathomTarget, set.images, requests, CLIENTS, 120_000));
    const fathomCpuMs = cpuMsPerJob(fathomCpuBefore, fathomCpu(), requests);

    // The same arrival rate for both: twice the faster one's, so each is at least 2× overloaded.
    const rate = Math.round(OVERLOAD_FACTOR * Math.max(peerSaturation.perSecond, fathomSaturation.perSecond) * 100) / 100;
    const maxQueueDepth = Math.max(2, Math.ceil(fathomSaturation.perSecond * plan.queueSeconds));
    firstApi.process.kill('SIGKILL');
    await firstApi.process.waitForExit(10_000);
    const api = await stack.startApi({
      ...LOAD_TEST_LIMITS_ENV,
      API_MAX_QUEUE_DEPTH: String(maxQueueDepth),
      API_INFER_TIMEOUT_MS: String(plan.apiInferTimeoutMs),
    });
    const queueName = inferenceQueueName(spec.name, spec.version);

    mark('fathomInferOverload');
    const fathomInfer = await fathomOverload(stack, api, '/v1/infer', spec.name, set.images, rate, plan);
    const leftAfterInfer = await waitForEmptyQueue(stack.redis.port, queueName, 120_000);
    if (plan.jobsRoute) mark('fathomJobsOverload');
    const fathomJobs = plan.jobsRoute ? await fathomOverload(stack, api, '/v1/jobs', spec.name, set.images, rate, plan) : undefined;
    const fathomPeakRssMiB = { api: peakRssMiB(api.process.child.pid), worker: peakRssMiB(stack.workers[0]?.child.pid) };
    await stopStack(); // the peer's overload gets the cores to itself, as Fathom's did

    const peerPeakRssBeforeOverloadMiB = peakRssMiB(peer.child.pid);
    mark('peerOverload');
    const peerOverload = overloadFigures(
      await openLoop(peerTarget, set.images, rate, plan.overloadSeconds, plan.clientTimeoutMs),
      plan.overloadSeconds,
    );
    const peerPeakRssMiB = { beforeOverload: peerPeakRssBeforeOverloadMiB, afterOverload: peakRssMiB(peer.child.pid) };

    const throughputRatio = Math.round((fathomSaturation.perSecond / peerSaturation.perSecond) * 100) / 100;
    const fathomRuns = [fathomInfer, ...(fathomJobs ? [fathomJobs] : [])];
    const lostOrHung = fathomRuns.reduce((sum, r) => sum + r.errors + r.timedOut + r.acceptedNotCompleted, 0);
    const refusedWithoutRetryAfter = fathomRuns.reduce((sum, r) => sum + r.refusedWithoutRetryAfter, 0);
    return {
      scenario: 'peer-express',
      model: `${spec.name}@${spec.version}`,
      standIn: DEPTH_STAND_IN,
      command: ctx.command,
      setup: {
        images: set.source,
        peer: 'one node process: express 5 + multer (memory) + sharp + onnxruntime-node, POST /infer runs the worker’s decoder, preprocessing, task post-processing and encoding in the request (bench/peers/express-peer.server.ts)',
        fathom: 'redis-server + API + one worker at its defaults; POST /v1/infer (and POST /v1/jobs + socket.io in full runs)',
        ortIntraOpThreads: threads,
        saturation: { clients: CLIENTS, requests },
        overload: {
          offeredPerSecond: rate,
          timesSaturation: { peer: round1(rate / peerSaturation.perSecond), fathom: round1(rate / fathomSaturation.perSecond) },
          seconds: plan.overloadSeconds,
          clientTimeoutMs: plan.clientTimeoutMs,
        },
        fathomApiEnv: {
          ...LOAD_TEST_LIMITS_ENV,
          API_MAX_QUEUE_DEPTH: maxQueueDepth,
          API_INFER_TIMEOUT_MS: plan.apiInferTimeoutMs,
          why: `${plan.queueSeconds} s of the measured saturation rate`,
        },
        jobsLeftInQueueAfterInferRun: leftAfterInfer,
        loadAverageAtStart: load,
      },
      figures: {
        peerPerSecond: peerSaturation.perSecond,
        fathomPerSecond: fathomSaturation.perSecond,
        throughputRatio,
        peerSaturationLatencyMs: { p50: peerSaturation.p50Ms, p95: peerSaturation.p95Ms },
        fathomSaturationLatencyMs: { p50: fathomSaturation.p50Ms, p95: fathomSaturation.p95Ms },
        /** CPU each process spent per request at saturation (client: this bench process, the load generator). */
        peerCpuMsPerRequest: peerCpuMs,
        fathomCpuMsPerRequest: fathomCpuMs,
        peerOverload,
        fathomInferOverload: fathomInfer,
        ...(fathomJobs ? { fathomJobsOverload: fathomJobs } : {}),
        peerPeakRssMiB,
        fathomPeakRssMiB,
        fathomLostOrHung: lostOrHung,
        fathomRefusedWithoutRetryAfter: refusedWithoutRetryAfter,
      },
      targets: [
        {
          figure: 'throughputRatio',
          target: `≥ ${TARGET_THROUGHPUT_RATIO}`,
          value: throughputRatio,
          met: throughputRatio >= TARGET_THROUGHPUT_RATIO,
        },
        {
          figure: 'fathomLostOrHung',
          target: '= 0 (errors + timed out + accepted but not completed)',
          value: lostOrHung,
          met: lostOrHung === 0,
        },
        { figure: 'fathomRefusedWithoutRetryAfter', target: '= 0', value: refusedWithoutRetryAfter, met: refusedWithoutRetryAfter === 0 },
      ],
    };
  } finally {
    peer.kill('SIGKILL');
    await peer.waitForExit(10_000).catch(() => undefined);
    await stopStack();
  }
}
