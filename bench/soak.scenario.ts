import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { io } from 'socket.io-client';
import {
  DEFAULT_KEY_PREFIX,
  inferenceQueueName,
  JOBS_NAMESPACE,
  TERMINAL_STATES,
  type JobAccepted,
  type JobStatus,
} from '@fathom/contracts';
import { DEFAULT_STALL_POLICY, recoveryBoundMs } from '@fathom/queue';
import { repoRoot } from '@fathom/testing';
import {
  depthModelsDir,
  FathomStack,
  NULL_MODEL_INPUT,
  type ApiInstance,
  type JobsSocket,
  type WorkerProcess,
} from '../test/support/fathom-stack';
import { greyBenchImage, type BenchImage } from './bench-images';
import { percentile, round1 } from './bench-stats';
import { fixedLatencyStandIn, simulatedInferenceEnv } from './hooks/simulated-inference';
import { HttpClient } from './load-driver';
import type { BenchContext, ScenarioResult } from './scenario';
import { completionsByJob, countReasons, retryAfterMs, tallySoak, type FinalAnswer, type KillRecord } from './soak-tally';

const MODEL = 'null-depth';
/** Per session.run, using no CPU: 2 workers of one inference thread do about 13 jobs/s, so 10 jobs/s keeps them busy, not flooded. */
const SIMULATED_INFERENCE_MS = 150;
const JOBS_PER_SECOND = 10;
const KILL_EVERY_MS = 10_000;
/** How long Redis stays down (SIGKILLed, then started again on its append-only file). */
const REDIS_DOWN_MS = 2_000;
/** After the last submission, how long the run waits for the last jobs to end before it calls them lost. */
const DRAIN_TIMEOUT_MS = 120_000;
/** A submission still refused after this long is given up (counted as refused, by its code). */
const SUBMIT_GIVE_UP_MS = 60_000;
const DEFAULT_POLICY = DEFAULT_STALL_POLICY;
const TARGET_RECOVERY_P95_MS = 15_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const increment = (counts: Record<string, number>, key: string) => (counts[key] = (counts[key] ?? 0) + 1);

/**
 * Soak: 2,000 jobs (200 with --quick) submitted through the API at a steady 10 jobs/s to two workers
 * while one worker is SIGKILLed every 10 s for the whole run (a fresh one started each time) and
 * Redis is SIGKILLed once mid-run and restarted on its append-only file. The driver is a real
 * client: it retries a 503 after its Retry-After with the same Idempotency-Key, and hears each
 * job's end on socket.io. At the end every accepted job's status is read: completed, failed (by
 * code), or lost; ran more than once (its stalls and attempts, and the workers' "job completed" lines).
 */
export async function soakScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const jobs = ctx.quick ? 200 : 2_000;
  const plannedMs = (jobs / JOBS_PER_SECOND) * 1_000;
  // Between two kills, near the middle of the submissions.
  const redisAtMs = (Math.floor(plannedMs / 2 / KILL_EVERY_MS) + 0.5) * KILL_EVERY_MS;
  const modelsDir = depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT);
  const image = await greyBenchImage();
  const stack = await FathomStack.start({ redis: { appendonly: true } });
  const queue = new Queue(inferenceQueueName(MODEL, '1.0.0'), { connection: { url: stack.redis.url }, prefix: DEFAULT_KEY_PREFIX });
  const workers = new Map<string, WorkerProcess>();
  let started = 0;
  const startWorker = async () => {
    const id = `soak-${++started}`;
    const env = { MODELS_DIR: modelsDir, WORKER_BUILTIN_MODELS: 'false', WORKER_ID: id, ...simulatedInferenceEnv(SIMULATED_INFERENCE_MS) };
    workers.set(id, await stack.startWorker(env));
  };

  const kills: KillRecord[] = [];
  let redisDown: { at: number; seconds: number } | undefined;
  let submissions: Submissions | undefined;
  let ends: EndListener | undefined;
  const finals = new Map<string, FinalAnswer>();
  const failedAttempts: string[] = [];
  let seconds: number | undefined;
  try {
    const [api] = await Promise.all([stack.startApi(), startWorker(), startWorker()]);
    ends = await EndListener.connect(api);
    submissions = new Submissions(api, image, ends);
    const runStart = Date.now();
    const submitted = submissions.run(jobs, JOBS_PER_SECOND);
    const drained = submitted.then(() => ends!.allEnded(DRAIN_TIMEOUT_MS));
    let over = false;
    void drained.finally(() => (over = true)).catch(() => undefined);

    // Kills and the Redis restart, one at a time, until every accepted job has ended (or the drain timed out).
    let nextKillAt = runStart + KILL_EVERY_MS;
    const redisAt = runStart + redisAtMs;
    while (!over) {
      const at = redisDown === undefined && redisAt < nextKillAt ? redisAt : nextKillAt;
      await Promise.race([sleep(Math.max(0, at - Date.now())), drained.catch(() => undefined)]);
      if (over) break;
      if (at === redisAt && redisDown === undefined) {
        const downAt = Date.now();
        await stack.redis.kill();
        await sleep(REDIS_DOWN_MS);
        await stack.redis.start();
        redisDown = { at: downAt - runStart, seconds: round1((Date.now() - downAt) / 1000) };
        console.error(`soak: redis killed at ${round1(redisDown.at / 1000)} s, back after ${redisDown.seconds} s`);
        continue;
      }
      kills.push(await killOne(queue, workers, startWorker));
      nextKillAt += KILL_EVERY_MS;
      console.error(
        `soak: kill ${kills.length} at ${round1((kills.at(-1)!.at - runStart) / 1000)} s held ${kills.at(-1)!.held.length} jobs; ${submissions.accepted.length}/${jobs} accepted, ${ends.ended.size} ended`,
      );
    }
    await drained.catch((error: Error) => console.error(`soak: ${error.message}`));
    seconds = (Date.now() - runStart) / 1000;
    for (const id of submissions.accepted) finals.set(id, await finalAnswer(api, id));
    // Why runs failed and were retried: BullMQ keeps each failed attempt's error with the job.
    for (const [id, { status }] of finals)
      if (status && status.attempts > status.stalls + 1) failedAttempts.push(...((await queue.getJob(id))?.stacktrace ?? []));
  } finally {
    ends?.close();
    submissions?.close();
    await queue.close();
    await stack.stop();
  }

  if (!submissions || !ends || seconds === undefined) throw new Error('soak: the run did not start');
  const workerOutputs = stack.workers.map((w) => w.output());
  const tally = tallySoak({ accepted: submissions.accepted, finals, completions: completionsByJob(workerOutputs), kills });
  // Every process's log, to follow a lost or doubled job by its id.
  const logs = join(repoRoot(), 'reports', 'bench', 'soak');
  mkdirSync(logs, { recursive: true });
  writeFileSync(join(logs, 'api.log'), stack.api.process.output());
  workerOutputs.forEach((output, i) => writeFileSync(join(logs, `worker-${i + 1}.log`), output));
  writeFileSync(join(logs, 'kills.json'), JSON.stringify({ kills, redisDown, finals: Object.fromEntries(finals) }));
  console.error(`soak: logs in ${logs}`);
  const recovery = tally.recoveryMs;
  const p95 = percentile(recovery, 95);
  const terminalNotHeard = submissions.accepted.filter(
    (id) => !ends.ended.has(id) && TERMINAL_STATES.includes(finals.get(id)?.status?.state ?? 'queued'),
  ).length;
  return {
    scenario: 'soak',
    model: `${MODEL}@1.0.0`,
    standIn: `fixed-latency model: ${fixedLatencyStandIn(SIMULATED_INFERENCE_MS)}, so thousands of jobs take minutes`,
    command: ctx.command,
    setup: {
      jobs,
      offered: `${JOBS_PER_SECOND} jobs/s, open loop: POST /v1/jobs with an Idempotency-Key, a 503 sent again after its Retry-After; ends heard on socket.io`,
      workers: `2 at their defaults (one inference thread, 2 jobs each); every ${KILL_EVERY_MS / 1000} s the one holding the most jobs is SIGKILLed and a fresh one started`,
      redis: `append-only; SIGKILLed once at ${redisAtMs / 1000} s, started again ${REDIS_DOWN_MS / 1000} s later`,
      policy: { ...DEFAULT_POLICY, boundMs: recoveryBoundMs(DEFAULT_POLICY), maxStalledCount: 1 },
      measured: "kill → the next start (status's startedAt) of each job BullMQ showed the killed worker holding",
    },
    figures: {
      accepted: tally.accepted,
      completed: tally.completed,
      failedByCode: Object.keys(tally.failedByCode).length > 0 ? tally.failedByCode : 0,
      lost: tally.lost.total,
      ...(tally.lost.total > 0
        ? { lostJobs: { gone: tally.lost.gone, neverEnded: tally.lost.neverEnded, ids: tally.lost.ids.join(' ') } }
        : {}),
      duplicated: {
        ranMoreThanOnce: tally.ranMoreThanOnce,
        stalled: tally.stalled,
        retriedAfterFailure: tally.retriedAfterFailure,
        workerCompletions: tally.workerCompletions.total,
        jobsCompletedTwice: tally.workerCompletions.jobsCompletedTwice,
        unknownJobsRun: tally.workerCompletions.unknownJobs,
        completedUnlogged: tally.workerCompletions.completedUnlogged,
      },
      kills: {
        count: kills.length,
        jobsHeld: kills.reduce((sum, k) => sum + k.held.length, 0),
        measured: recovery.length,
        endedBeforeKill: tally.heldNotMeasured.endedBeforeKill,
        stalledAgain: tally.heldNotMeasured.stalledAgain,
      },
      recoverySeconds: {
        p50: round1(percentile(recovery, 50) / 1000),
        p95: round1(p95 / 1000),
        max: round1(Math.max(...recovery) / 1000),
        min: round1(Math.min(...recovery) / 1000),
      },
      redisRestart: {
        atSeconds: redisDown ? round1(redisDown.at / 1000) : 'none',
        downSeconds: redisDown?.seconds ?? 0,
        retriedSubmissions: submissions.retried,
        subscribeRetries: ends.refusals,
        socketReconnects: ends.reconnects,
      },
      failedAttempts: failedAttempts.length > 0 ? countReasons(failedAttempts) : 0,
      refused: Object.keys(submissions.refused).length > 0 ? submissions.refused : 0,
      replayedOnRetry: submissions.replayed,
      endsNotHeardOnSocket: terminalNotHeard,
      seconds: round1(seconds),
      completedPerSecond: round1(tally.completed / seconds),
    },
    targets: [
      { figure: 'lost', target: '= 0 (accepted, then gone or never ended)', value: tally.lost.total, met: tally.lost.total === 0 },
      {
        figure: 'recoverySeconds',
        target: `p95 ≤ ${TARGET_RECOVERY_P95_MS / 1000} s`,
        value: round1(p95 / 1000),
        met: p95 <= TARGET_RECOVERY_P95_MS,
      },
    ],
  };
}

/** SIGKILLs the live worker BullMQ shows holding the most jobs (the oldest on a tie), then starts a fresh one. */
async function killOne(queue: Queue, workers: Map<string, WorkerProcess>, startWorker: () => Promise<void>): Promise<KillRecord> {
  const active = await queue.getActive().catch(() => []);
  const holding = (id: string) => active.filter((job) => job.processedBy === id).length;
  const victimId = [...workers.keys()].reduce((best, id) => (holding(id) > holding(best) ? id : best));
  const victim = workers.get(victimId)!;
  const held = active.filter((job) => job.processedBy === victimId).map((job) => job.id!);
  const at = Date.now();
  victim.kill('SIGKILL');
  workers.delete(victimId);
  await Promise.all([victim.waitForExit(10_000), startWorker()]);
  return { at, held };
}

/** The `error.code` of an error body, if it is one. */
function errorCode(body: Buffer): string | undefined {
  try {
    return (JSON.parse(body.toString()) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

/** The status a client reads at the end, sent again after a 503 as during the run. */
async function finalAnswer(api: ApiInstance, id: string): Promise<FinalAnswer> {
  for (;;) {
    const response = await fetch(`${api.url}/v1/jobs/${id}`);
    if (response.status === 503) {
      await sleep(retryAfterMs(response.headers.get('retry-after') ?? undefined, Date.now()));
      continue;
    }
    if (response.status !== 200) return { httpStatus: response.status };
    return { httpStatus: 200, status: (await response.json()) as JobStatus };
  }
}

/** The client's submissions: open loop at a steady rate, each retried after a 503's Retry-After with its own Idempotency-Key. */
class Submissions {
  readonly accepted: string[] = [];
  /** Answers that were sent again, by code (store_unavailable while Redis was down). */
  readonly retried: Record<string, number> = {};
  /** Submissions given up, by the code of their last answer. */
  readonly refused: Record<string, number> = {};
  replayed = 0;
  private readonly http: HttpClient;
  private readonly runId = randomUUID();

  constructor(
    api: ApiInstance,
    private readonly image: BenchImage,
    private readonly ends: EndListener,
  ) {
    this.http = new HttpClient(api);
  }

  async run(jobs: number, perSecond: number): Promise<void> {
    const start = Date.now();
    const sent: Array<Promise<void>> = [];
    for (let i = 0; i < jobs; i++) {
      await sleep(start + (i * 1000) / perSecond - Date.now());
      sent.push(this.submit(i));
    }
    await Promise.all(sent);
    this.ends.submissionsDone();
  }

  private async submit(i: number): Promise<void> {
    const key = `soak-${this.runId}-${i}`;
    const giveUpAt = Date.now() + SUBMIT_GIVE_UP_MS;
    for (;;) {
      let status: number;
      let code: string;
      let retryAfter: string | undefined;
      try {
        const answer = await this.http.upload('/v1/jobs', MODEL, this.image, { 'idempotency-key': key });
        if (answer.status === 202) {
          const { id } = JSON.parse(answer.body.toString()) as JobAccepted;
          if (answer.headers['idempotent-replayed'] === 'true') this.replayed++;
          this.accepted.push(id);
          this.ends.track(id);
          return;
        }
        status = answer.status;
        code = errorCode(answer.body) ?? String(status);
        retryAfter = answer.headers['retry-after'];
      } catch (error) {
        // The connection failed: a client sends again (the Idempotency-Key makes that safe).
        status = 0;
        code = (error as NodeJS.ErrnoException).code ?? 'network';
      }
      const retryable = status === 0 || ((status === 503 || status === 429) && retryAfter !== undefined);
      if (!retryable || Date.now() > giveUpAt) {
        increment(this.refused, code);
        return;
      }
      increment(this.retried, code);
      await sleep(retryAfterMs(retryAfter, Date.now()));
    }
  }

  close(): void {
    this.http.close();
  }
}

/**
 * Hears each accepted job's end on one socket.io connection, as a client would: subscribes (again
 * after a refusal, e.g. store_unavailable while Redis is down, and after a reconnect), unsubscribes
 * once the end came.
 */
class EndListener {
  readonly ended = new Set<string>();
  /** Subscriptions refused and sent again, by code. */
  readonly refusals: Record<string, number> = {};
  reconnects = 0;
  private readonly pending = new Set<string>();
  private allSubmitted = false;
  private onAllEnded: (() => void) | undefined;

  private constructor(private readonly socket: JobsSocket) {
    socket.on('job.completed', (event) => this.end(event.jobId));
    socket.on('job.failed', (event) => this.end(event.jobId));
    socket.on('job.cancelled', (event) => this.end(event.jobId));
    socket.io.on('reconnect', () => {
      this.reconnects++;
      for (const id of this.pending) this.subscribe(id);
    });
  }

  static connect(api: ApiInstance): Promise<EndListener> {
    const socket: JobsSocket = io(`${api.url}${JOBS_NAMESPACE}`, { transports: ['websocket'], forceNew: true });
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(new EndListener(socket)));
      socket.once('connect_error', reject);
    });
  }

  track(id: string): void {
    this.pending.add(id);
    this.subscribe(id);
  }

  submissionsDone(): void {
    this.allSubmitted = true;
    this.check();
  }

  /** Resolves once every submission was answered and every accepted job has ended; rejects after `timeoutMs`. */
  allEnded(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.pending.size} accepted jobs had not ended ${timeoutMs / 1000} s after the last submission`)),
        timeoutMs,
      );
      this.onAllEnded = () => (clearTimeout(timer), resolve());
      this.check();
    });
  }

  close(): void {
    this.socket.disconnect();
  }

  private subscribe(id: string): void {
    this.socket.emit('subscribe', { jobId: id }, (reply) => {
      if (reply.ok) {
        if (TERMINAL_STATES.includes(reply.status.state)) this.end(id);
        return;
      }
      increment(this.refusals, reply.error.code);
      setTimeout(() => this.pending.has(id) && this.subscribe(id), 1_000);
    });
  }

  private end(id: string): void {
    if (!this.pending.delete(id)) return;
    this.ended.add(id);
    this.socket.emit('unsubscribe', { jobId: id });
    this.check();
  }

  private check(): void {
    if (this.allSubmitted && this.pending.size === 0) this.onAllEnded?.();
  }
}
