import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import type { StallPolicy } from '@fathom/queue';
import { FilesystemBlobStore, type BlobStore } from '@fathom/storage';
import {
  DEFAULT_KEY_PREFIX,
  JOBS_NAMESPACE,
  TERMINAL_STATES,
  type JobClientEvents,
  type JobServerEvents,
  type JobState,
  type JobStatus,
} from '@fathom/contracts';
import {
  buildDepthStandInModel,
  createTestDatabase,
  repoRoot,
  spawnNodeProcess,
  startRedisCluster,
  startRedisServer,
  startEmbeddedTestDatabase,
  type RedisClusterHandle,
  type RedisServerHandle,
  type RedisServerOptions,
  type TestDatabase,
} from '@fathom/testing';

export type JobsSocket = Socket<JobServerEvents, JobClientEvents>;
export type WorkerProcess = ReturnType<typeof spawnNodeProcess>;

export interface ApiInstance {
  process: ReturnType<typeof spawnNodeProcess>;
  url: string;
  /** Its /metrics, on a port of its own (API_METRICS_PORT), never on `url`. */
  metricsUrl: string;
}

/**
 * A whole Fathom on this machine, as a user would run it: a real redis-server, a database of its
 * own (on the real PostgreSQL, or the embedded one), and API and worker processes started from
 * the built code (the API on port 0).
 */
export class FathomStack {
  readonly apis: ApiInstance[] = [];
  readonly workers: WorkerProcess[] = [];
  private readonly sockets: JobsSocket[] = [];
  readonly cacheDir = mkdtempSync(join(tmpdir(), 'fathom-cache-'));
  /** The stack's own object store, a folder (STORAGE_BACKEND=filesystem) that API and workers share; a test's env may name another. */
  readonly blobDir = mkdtempSync(join(tmpdir(), 'fathom-blobs-'));
  /** The stack's store as its processes see it (the default filesystem one), for a test to look into or tamper with. */
  readonly blobs: BlobStore = new FilesystemBlobStore(this.blobDir, DEFAULT_KEY_PREFIX);

  private constructor(
    /** The redis-server, or the cluster's first master (its seed) with `cluster`. */
    readonly redis: RedisServerHandle,
    readonly database: TestDatabase,
    readonly cluster?: RedisClusterHandle,
  ) {}

  /**
   * `redis`: the private redis-server's options (AOF, a password, TLS). `cluster`: a three-master
   * Redis Cluster instead (the processes get REDIS_CLUSTER=true). `database`: 'postgres' (a
   * new database on the machine's PostgreSQL, the default) or 'embedded' (the PGlite server `npm start` runs).
   */
  static async start(
    opts: { redis?: RedisServerOptions; cluster?: boolean; database?: 'postgres' | 'embedded' } = {},
  ): Promise<FathomStack> {
    const [redis, database] = await Promise.all([
      opts.cluster ? startRedisCluster() : startRedisServer(opts.redis),
      opts.database === 'embedded' ? startEmbeddedTestDatabase() : createTestDatabase(),
    ]);
    return 'masters' in redis ? new FathomStack(redis.masters[0]!, database, redis) : new FathomStack(redis, database);
  }

  /** How the processes reach Redis. */
  private redisEnv(): Record<string, string> {
    return { REDIS_URL: this.redis.url, ...(this.cluster ? { REDIS_CLUSTER: 'true' } : {}) };
  }

  get api(): ApiInstance {
    return this.apis[0]!;
  }

  async startApi(env: Record<string, string> = {}): Promise<ApiInstance> {
    const api = spawnNodeProcess(join(repoRoot(), 'dist/apps/api/src/main.js'), {
      ...this.redisEnv(),
      DATABASE_URL: this.database.url,
      STORAGE_DIR: this.blobDir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      // Several APIs per machine (and per test): each /metrics on a free port.
      API_METRICS_PORT: '0',
      ...env,
    });
    const line = await api.waitForLine(/"msg":"Fathom API listening on /, 30_000);
    const { url, metrics } = JSON.parse(line) as { url: string; metrics: string };
    const instance = { process: api, url, metricsUrl: metrics };
    this.apis.push(instance);
    return instance;
  }

  /** Starts a worker process and waits until it announces the models it serves. */
  async startWorker(env: Record<string, string> = {}): Promise<WorkerProcess> {
    const worker = spawnNodeProcess(join(repoRoot(), 'dist/apps/worker/src/main.js'), {
      ...this.redisEnv(),
      STORAGE_DIR: this.blobDir,
      LOG_LEVEL: 'info',
      WORKER_HEARTBEAT_MS: '500',
      // Not the user's ~/.cache: tests serve only what they build, whatever was pulled on this machine.
      MODELS_CACHE_DIR: this.cacheDir,
      // Several workers per machine (and per test): each on a free port, logged as "metrics listening".
      WORKER_METRICS_PORT: '0',
      ...env,
    });
    this.workers.push(worker);
    await worker.waitForLine(/"msg":"worker ready"/, 60_000);
    return worker;
  }

  /** A started worker's /metrics address, from the line it logs once it listens (on a free port here). */
  static async metricsUrl(worker: WorkerProcess): Promise<string> {
    return (JSON.parse(await worker.waitForLine(/"msg":"metrics listening"/, 1_000)) as { url: string }).url;
  }

  /**
   * Waits for the job to end as a socket client does (subscribe, then its `job.completed`,
   * `job.failed` or `job.cancelled`; an end before the subscription is sent on subscribing) and
   * returns the status the API then reports. For tests about polling itself, use pollStatus.
   */
  async jobEnd(jobId: string, { api = this.api, timeoutMs = 30_000, key }: JobWaitOptions = {}): Promise<JobStatus> {
    await this.onSocket(api, jobId, TERMINAL_EVENTS, timeoutMs, () => false, key);
    const status = await readStatus(api, jobId, key);
    if (!TERMINAL_STATES.includes(status.state)) throw new Error(`job ${jobId} sent its end but reads ${status.state}`);
    return status;
  }

  /**
   * Waits until the job runs (or has ended): its state on subscribing, else its first
   * `job.progress` (sent once a stage has lasted PROGRESS_AFTER_MS) or its end.
   */
  async jobStarted(jobId: string, { api = this.api, timeoutMs = 30_000, key }: JobWaitOptions = {}): Promise<void> {
    await this.onSocket(api, jobId, [...TERMINAL_EVENTS, 'job.progress'], timeoutMs, (state) => state !== 'queued', key);
  }

  /** Subscribes to the job on a socket of its own; resolves once `done(state on subscribing)` or one of `events` arrives. */
  private async onSocket(
    api: ApiInstance,
    jobId: string,
    events: readonly JobEventName[],
    timeoutMs: number,
    done: (state: JobState) => boolean,
    key?: string,
  ): Promise<void> {
    const socket = await this.connect(api, key);
    const next = nextJobEvent(socket, jobId, events, timeoutMs);
    try {
      const reply = await subscribe(socket, jobId);
      if (!reply.ok) throw new Error(`subscribing to job ${jobId} failed: ${reply.error.code}`);
      if (!done(reply.status.state)) await next;
    } finally {
      next.cancel();
      socket.disconnect();
    }
  }

  /** A socket.io client on /jobs; `key`: the API key it sends in the handshake (API_AUTH=keys). */
  connect(api: ApiInstance = this.api, key?: string): Promise<JobsSocket> {
    const socket: JobsSocket = io(`${api.url}${JOBS_NAMESPACE}`, {
      transports: ['websocket'],
      forceNew: true,
      ...(key === undefined ? {} : { auth: { token: key } }),
    });
    this.sockets.push(socket);
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', reject);
    });
  }

  /** Runs `npm run keys -- <args>` (the built CLI) against this stack's database. */
  async keysCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(repoRoot(), 'dist/tools/keys/keys.js'), ...args], {
        env: { ...process.env, DATABASE_URL: this.database.url, ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  /** Creates an API key with the CLI, as an operator makes the first one; returns its id and the key. */
  async createKey(owner: string, scopes: string[]): Promise<{ id: string; key: string }> {
    const { code, stdout, stderr } = await this.keysCli(['create', '--owner', owner, '--scopes', scopes.join(',')]);
    if (code !== 0) throw new Error(`keys create failed (${code}): ${stderr}`);
    const key = stdout.trim().split('\n').pop()!;
    return { id: key.split('_')[1]!, key };
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.disconnect();
    const running = [...this.workers, ...this.apis.map((a) => a.process)].filter(
      (p) => p.child.exitCode === null && p.child.signalCode === null,
    );
    for (const p of running) p.kill('SIGKILL');
    await Promise.all(running.map((p) => p.waitForExit(10_000)));
    await Promise.all([(this.cluster ?? this.redis).stop(), this.database.drop(), rm(this.blobDir, { recursive: true, force: true })]);
  }
}

/**
 * A MODELS_DIR with the depth stand-in (output = mean of the normalised channels); `manifest`
 * adds or overrides manifest fields, e.g. a small fixed input for a model that costs nothing.
 */
export function depthModelsDir(model: Buffer = buildDepthStandInModel(), name = 'depth-test', manifest: object = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-models-'));
  writeFileSync(join(dir, `${name}.onnx`), model);
  writeFileSync(
    join(dir, `${name}.model.json`),
    JSON.stringify({ name, version: '1.0.0', task: 'depth', weights: `${name}.onnx`, ...manifest }),
  );
  return dir;
}

/** The depth stand-in at a fixed 28×28 input: a model whose cost is next to nothing. */
export const NULL_MODEL_INPUT = { input: { resize: { mode: 'fixed', width: 28, height: 28 } } } as const;

/**
 * The API environment of load tests, benchmarks and demos: they drive the API from one address
 * (the unauthenticated local caller) far past one client's fair share, and measure the service,
 * not its per-key limits (test/rate-limits.e2e-spec.ts does): limits no run reaches.
 */
export const LOAD_TEST_LIMITS_ENV = { API_KEY_REQUESTS_PER_SECOND: '1000000', API_KEY_JOBS_IN_FLIGHT: '1000000' } as const;

/**
 * POST a multipart form like curl -F would: the fields, then the image (`imageFirst`: the image,
 * then the fields — clients may send either order).
 */
export async function submit(
  api: ApiInstance,
  form: { image: Buffer; filename?: string; model?: string; variant?: string; options?: unknown; deadline?: string; imageFirst?: boolean },
  headers: Record<string, string> = {},
  path = '/v1/jobs',
): Promise<Response> {
  const body = new FormData();
  if (form.imageFirst) body.append('image', new Blob([new Uint8Array(form.image)]), form.filename ?? 'upload.png');
  if (form.model !== undefined) body.append('model', form.model);
  if (form.variant !== undefined) body.append('variant', form.variant);
  if (form.options !== undefined) body.append('options', typeof form.options === 'string' ? form.options : JSON.stringify(form.options));
  if (form.deadline !== undefined) body.append('deadline', form.deadline);
  if (!form.imageFirst) body.append('image', new Blob([new Uint8Array(form.image)]), form.filename ?? 'upload.png');
  return fetch(`${api.url}${path}`, { method: 'POST', body, headers });
}

/** Resolves with the first `event` whose payload matches, or rejects after `timeoutMs`. */
export function nextEvent<E extends keyof JobServerEvents>(
  socket: JobsSocket,
  event: E,
  matches: (payload: Parameters<JobServerEvents[E]>[0]) => boolean = () => true,
  timeoutMs = 30_000,
): Promise<Parameters<JobServerEvents[E]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener as never);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (payload: Parameters<JobServerEvents[E]>[0]) => {
      if (!matches(payload)) return;
      clearTimeout(timer);
      socket.off(event, listener as never);
      resolve(payload);
    };
    socket.on(event, listener as never);
  });
}

export function subscribe(
  socket: JobsSocket,
  jobId: string,
): Promise<Parameters<NonNullable<Parameters<JobClientEvents['subscribe']>[1]>>[0]> {
  return new Promise((resolve) => socket.emit('subscribe', { jobId }, resolve));
}

const TERMINAL_EVENTS = ['job.completed', 'job.failed', 'job.cancelled'] as const;
type JobEventName = 'job.progress' | (typeof TERMINAL_EVENTS)[number];

/** The name of the first of `events` about `jobId`, or a rejection after `timeoutMs`; `cancel()` stops listening. */
function nextJobEvent(
  socket: JobsSocket,
  jobId: string,
  events: readonly JobEventName[],
  timeoutMs: number,
): Promise<JobEventName> & { cancel(): void } {
  let cancel: () => void = () => undefined;
  const promise = new Promise<JobEventName>((resolve, reject) => {
    const listeners = events.map((event) => {
      const listener = (payload: { jobId: string }) => {
        if (payload.jobId !== jobId) return;
        cancel();
        resolve(event);
      };
      socket.on(event, listener);
      return [event, listener] as const;
    });
    const timer = setTimeout(() => {
      cancel();
      reject(new Error(`no ${events.join(' / ')} for job ${jobId} within ${timeoutMs} ms`));
    }, timeoutMs);
    cancel = () => {
      clearTimeout(timer);
      for (const [event, listener] of listeners) socket.off(event, listener);
    };
  });
  return Object.assign(promise, { cancel: () => cancel() });
}

async function readStatus(api: ApiInstance, jobId: string, key?: string): Promise<JobStatus> {
  return (await (await fetch(`${api.url}/v1/jobs/${jobId}`, { headers: bearer(key) })).json()) as JobStatus;
}

/** The Authorization header for a key (none without one: API_AUTH=none). */
export function bearer(key: string | undefined): Record<string, string> {
  return key === undefined ? {} : { authorization: `Bearer ${key}` };
}

interface JobWaitOptions {
  api?: ApiInstance;
  timeoutMs?: number;
  /** The key that submitted the job (API_AUTH=keys). */
  key?: string;
}

/**
 * What a poll-only client does: GET the status every `intervalMs` until it reaches one of `states`.
 * Only for tests about polling (or where no socket may listen); elsewhere wait on an event:
 * FathomStack.jobEnd / jobStarted.
 */
export async function pollStatus(
  api: ApiInstance,
  jobId: string,
  states: JobState[],
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<JobStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = (await (await fetch(`${api.url}/v1/jobs/${jobId}`)).json()) as JobStatus;
    if (states.includes(status.state)) return status;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${status.state} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A worker's environment for a stall policy (libs/queue's StallPolicy): its lock, its stalled check, its stall limit. */
export function stallPolicyEnv(policy: StallPolicy): Record<string, string> {
  return {
    WORKER_LOCK_DURATION_MS: String(policy.lockDurationMs),
    WORKER_STALLED_INTERVAL_MS: String(policy.stalledIntervalMs),
    WORKER_MAX_STALLED_COUNT: String(policy.maxStalledCount),
  };
}
