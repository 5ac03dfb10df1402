import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { ErrorCode, FathomError, type TaskOptions } from '@fathom/contracts';
import { specKey, type ModelSpec } from '@fathom/models';
import { StageDeadlines, stageLimitOf, type DeadlineClock, type StageLimits } from './stage-deadlines';
import {
  stageClockNow,
  type LoadedModel,
  type LoadRequest,
  type PoolMessage,
  type RunOutput,
  type ThreadData,
  type ThreadInit,
  type ThreadMessage,
  type ThreadStage,
  type UnloadRequest,
} from './thread-protocol';

/** A model could not be loaded or warmed up: a configuration problem, stated without a stack. */
export class ModelLoadError extends Error {}

/** A failed run, with whether trying again could help. */
export class InferenceError extends FathomError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly retryable: boolean,
  ) {
    super(code, message);
  }
}

/** A job's stage ran past its limit: the attempt fails `inference_timeout`, and BullMQ retries it like any transient failure. */
export class StageTimeoutError extends InferenceError {
  constructor(
    readonly stage: ThreadStage,
    readonly limitMs: number,
  ) {
    super(
      ErrorCode.InferenceTimeout,
      `The ${stage} stage ran past its limit of ${limitMs} ms (${STAGE_LIMIT_ENV[stageLimitOf(stage)]}); the inference thread was replaced.`,
      true,
    );
  }
}

/** The variable that sets each limit, named in the failure a user reads. */
const STAGE_LIMIT_ENV: Record<keyof StageLimits, string> = {
  decode: 'WORKER_DECODE_TIMEOUT_MS',
  inference: 'WORKER_INFERENCE_TIMEOUT_MS',
  encode: 'WORKER_ENCODE_TIMEOUT_MS',
};

/**
 * What the pool's owner hears of a job as it moves on its thread, with the time each step happened
 * there (stageClockNow): the stage it enters (inference with the size of its batch), and when it
 * leaves its stage without entering another (waiting for a batch, done, failed).
 */
export interface StageListener {
  enter(stage: ThreadStage, at: number, detail?: { batchSize: number }): void;
  pause(at: number): void;
}

const NO_LISTENER: StageListener = { enter: () => undefined, pause: () => undefined };

interface Pending {
  modelKey: string;
  input: Uint8Array;
  options: TaskOptions;
  stages: StageListener;
  /** The image's pixels (width × height from the API's header read): what decoding it holds in memory. */
  pixels: number;
  /** An evaluation job: the raw output artifact too (RunRequest.raw). */
  raw: boolean;
  resolve: (output: RunOutput) => void;
  reject: (error: Error) => void;
}

interface Slot {
  thread: Worker;
  /** Set to 1 when the pool retires the thread (ThreadData.retired). */
  retired: Int32Array;
  /** When the pool retired it (performance.now()); undefined while it serves. */
  retiredAt?: number;
  /** Jobs handed to this thread and not answered yet, by request id. */
  inFlight: Map<number, Pending>;
  /** When the thread last went from idle to holding a job. */
  busySince: number;
  /** The deadlines of the stages its jobs are in, by request id. */
  deadlines: StageDeadlines<number>;
  /** The models this thread has loaded, by key. */
  models: Set<string>;
  /** Loads and unloads sent to it and not answered yet, by request id. */
  controls: Map<number, { key: string; resolve: (model?: LoadedModel) => void; reject: (error: Error) => void }>;
}

/** What the pool tells its owner: problems with threads, the sessions each new thread loaded, and batches run. */
export interface PoolEvents {
  onThreadExit?: (message: string) => void;
  /** Every thread that becomes ready (at start and when one is replaced after a crash), and every model loaded at runtime. */
  onModelsLoaded?: (models: LoadedModel[]) => void;
  /** A model unloaded at runtime: its sessions are released on every thread. */
  onModelUnloaded?: (key: string) => void;
  /** One session.run done, with how many jobs it took. */
  onBatch?: (modelKey: string, size: number, seconds: number) => void;
  /**
   * A job's stage outlasted its limit: its thread was retired and replaced. `hung`: retired threads
   * still running (each holds its sessions and a core until its native call returns).
   */
  onThreadHung?: (event: { stage: ThreadStage; limitMs: number; hung: number }) => void;
  /** More retired threads still run than PoolLimits.maxHungThreads: the process should drain and exit. */
  onTooManyHung?: (hung: number) => void;
  /** A retired thread's call returned and the thread left, after `seconds` retired. */
  onHungThreadExit?: (seconds: number) => void;
}

/** Limits on what the pool's threads hold at once, beside the job count. */
export interface PoolLimits {
  /**
   * Decoded pixels of the jobs the threads hold at once (WORKER_DECODE_BUDGET_MEGAPIXELS): a job
   * waits while it would take the sum past this; a job larger than the whole budget runs alone.
   */
  decodeBudgetPixels: number;
  /** How long each stage of a job may last (WORKER_*_TIMEOUT_MS). */
  stages: StageLimits;
  /** Retired threads still running past which the pool asks its owner to restart the process (WORKER_MAX_HUNG_THREADS). */
  maxHungThreads: number;
}

const NO_LIMITS: PoolLimits = {
  decodeBudgetPixels: Number.POSITIVE_INFINITY,
  stages: { decode: Number.POSITIVE_INFINITY, inference: Number.POSITIVE_INFINITY, encode: Number.POSITIVE_INFINITY },
  maxHungThreads: Number.POSITIVE_INFINITY,
};

/** Jobs a thread holds at once for a model batching up to `maxBatch`: a batch running and the next being decoded. */
export const jobsInHand = (maxBatch: number): number => 2 * Math.max(1, maxBatch);

const shuttingDown = () => new InferenceError(ErrorCode.ServiceUnavailable, 'The worker is shutting down.', true);

/** A job for a model this worker does not serve (any more): another worker may, so it is worth another attempt. */
const notServed = (modelKey: string) =>
  new InferenceError(ErrorCode.ModelNotServed, `Model ${modelKey} is not loaded on this worker (it was unloaded, or never loaded).`, true);

const THREAD_ENTRY = join(__dirname, 'inference.thread.js');

/** Stage messages carry stageClockNow times: deadlines are measured on the same clock. */
const DEADLINE_CLOCK: DeadlineClock = {
  now: stageClockNow,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};

/**
 * Inference threads, each with its own sessions. Each thread holds up to `perThread` jobs at once,
 * so it decodes the next ones while a batch runs and can gather a batch (inference.thread.ts).
 * The main thread only moves bytes and messages, so its event loop stays free for BullMQ's lock
 * renewal and heartbeats.
 */
export class InferencePool {
  private readonly slots: Slot[] = [];
  /** Threads retired after a stage outlasted its limit, still running (stuck in a native call, most likely). */
  private readonly hung = new Set<Slot>();
  private readonly waiting: Pending[] = [];
  private nextRequestId = 1;
  /** Ids of loads and unloads: a sequence of their own. */
  private nextControlId = 1;
  /** Jobs a thread holds at once, for the served model with the largest batch. */
  private perThread: number;
  /**
   * The models every thread should have, by key: those served, and one being loaded (added when
   * its load starts, removed when it fails or once unloaded). A new thread starts with the served
   * ones and is then sent the rest.
   */
  private readonly specs = new Map<string, ModelSpec>();
  /** Models loaded on every thread and taking jobs. */
  private readonly served = new Set<string>();
  /** Jobs not answered yet, by model (waiting or on a thread): an unload waits for them. */
  private readonly pendingByModel = new Map<string, number>();
  private readonly drained = new Map<string, Array<() => void>>();
  private readonly limits: PoolLimits;
  private closing = false;
  /** Milliseconds threads spent on finished runs; runs in progress are added when read. */
  private busyMs = 0;
  /** Pixels of the jobs handed to threads and not answered yet. */
  private held = 0;
  /** Filled once every thread has loaded and warmed up its models. */
  loadedModels: LoadedModel[] = [];

  constructor(
    private readonly init: ThreadInit,
    private readonly threads: number,
    private readonly events: PoolEvents = {},
    limits: Partial<PoolLimits> = {},
  ) {
    this.limits = { ...NO_LIMITS, ...limits };
    for (const spec of init.models) {
      this.specs.set(specKey(spec), spec);
      this.served.add(specKey(spec));
    }
    this.perThread = this.jobsPerThread();
  }

  /** Enough for the largest batch of the models it has (1 with none). */
  private jobsPerThread(): number {
    return jobsInHand(Math.max(1, ...[...this.specs.values()].map((m) => m.batching.maxBatch)));
  }

  /** The spec of a model the pool has (loaded or loading). */
  spec(modelKey: string): ModelSpec | undefined {
    return this.specs.get(modelKey);
  }

  /** Whether jobs of this model run here now. */
  serves(modelKey: string): boolean {
    return this.served.has(modelKey);
  }

  /** Inference threads this pool runs. */
  get size(): number {
    return this.threads;
  }

  /** Seconds inference threads have spent on jobs so far, including the runs still going. */
  busySeconds(): number {
    const now = performance.now();
    const running = this.slots.reduce((sum, slot) => sum + (slot.inFlight.size > 0 ? now - slot.busySince : 0), 0);
    return (this.busyMs + running) / 1000;
  }

  /** The provider the sessions of a model run on (the same on every thread: one configuration). */
  executionProvider(modelKey: string): LoadedModel['executionProvider'] | undefined {
    return this.loadedModels.find((m) => m.key === modelKey)?.executionProvider;
  }

  async start(): Promise<LoadedModel[]> {
    const ready = await Promise.all(Array.from({ length: this.threads }, () => this.spawn()));
    this.loadedModels = ready[0] ?? [];
    return this.loadedModels;
  }

  /** Jobs the pool holds at once (what keeps every thread busy): what a caller should keep in flight. */
  get capacity(): number {
    return this.threads * this.perThread;
  }

  /** Retired threads still running: never terminated from here, since a thread inside session.run cannot be (ADR 0009). */
  get hungThreads(): number {
    return this.hung.size;
  }

  /** Decoded pixels of the jobs the threads hold now. */
  get heldPixels(): number {
    return this.held;
  }

  /**
   * Runs a job on the least loaded thread; `stages` hears it move from stage to stage. `pixels`
   * (the image's width × height) counts against the decode budget; 0 when unknown.
   */
  run(
    modelKey: string,
    input: Uint8Array,
    options: TaskOptions,
    stages: StageListener = NO_LISTENER,
    pixels = 0,
    extras: { raw?: boolean } = {},
  ): Promise<RunOutput> {
    if (this.closing) return Promise.reject(shuttingDown());
    if (!this.served.has(modelKey)) return Promise.reject(notServed(modelKey));
    this.pendingByModel.set(modelKey, (this.pendingByModel.get(modelKey) ?? 0) + 1);
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      const left = (this.pendingByModel.get(modelKey) ?? 1) - 1;
      if (left > 0) return void this.pendingByModel.set(modelKey, left);
      this.pendingByModel.delete(modelKey);
      for (const wake of this.drained.get(modelKey)?.splice(0) ?? []) wake();
    };
    return new Promise<RunOutput>((resolve, reject) => {
      this.waiting.push({
        modelKey,
        input,
        options,
        stages,
        pixels,
        raw: extras.raw === true,
        resolve: (output) => (settle(), resolve(output)),
        reject: (error) => (settle(), reject(error)),
      });
      this.dispatch();
    });
  }

  /**
   * Loads and warms up one more model on every live thread, all or nothing: when one thread
   * fails, the others unload it and the promise rejects with that thread's reason (a warm-up
   * error naming the tensor, …). Jobs of the model are taken once it resolves; a thread started
   * later (a crash, a retirement) loads it too.
   */
  async load(spec: ModelSpec): Promise<LoadedModel> {
    const key = specKey(spec);
    if (this.closing) throw new ModelLoadError(`Could not load ${key}: the worker is shutting down.`);
    if (this.specs.has(key)) throw new ModelLoadError(`Could not load ${key}: it is already loaded or loading here.`);
    const slots = [...this.slots];
    if (slots.length === 0) throw new ModelLoadError(`Could not load ${key}: no inference thread is running.`);
    this.specs.set(key, spec);
    const results = await Promise.allSettled(slots.map((slot) => this.control(slot, { type: 'load', spec })));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure || this.closing) {
      this.specs.delete(key);
      await Promise.all(
        slots.filter((slot) => slot.models.has(key)).map((slot) => this.control(slot, { type: 'unload', key }).catch(() => undefined)),
      );
      const reason = failure ? (failure.reason as Error).message : 'the worker is shutting down';
      throw new ModelLoadError(reason);
    }
    const loaded = (results[0] as PromiseFulfilledResult<LoadedModel | undefined>).value!;
    this.served.add(key);
    this.loadedModels = [...this.loadedModels.filter((m) => m.key !== key), loaded];
    this.perThread = this.jobsPerThread();
    this.events.onModelsLoaded?.([loaded]);
    this.dispatch();
    return loaded;
  }

  /**
   * Stops taking jobs of a model at once (a new one fails `model_not_served`, retryable), waits
   * for those it holds, then releases its sessions on every thread. Its queue's consumer should
   * be closed first, so that none is in hand.
   */
  async unload(modelKey: string): Promise<void> {
    if (!this.specs.has(modelKey)) return;
    this.served.delete(modelKey);
    if (this.pendingByModel.has(modelKey)) {
      await new Promise<void>((resolve) => this.drained.set(modelKey, [...(this.drained.get(modelKey) ?? []), resolve]));
    }
    this.specs.delete(modelKey);
    this.loadedModels = this.loadedModels.filter((m) => m.key !== modelKey);
    this.perThread = this.jobsPerThread();
    await Promise.all(
      this.slots
        .filter((slot) => slot.models.has(modelKey))
        .map((slot) => this.control(slot, { type: 'unload', key: modelKey }).catch(() => undefined)),
    );
    this.events.onModelUnloaded?.(modelKey);
  }

  /** Sends a load or an unload to one thread; settles with its answer, or rejects if the thread goes first. */
  private control(
    slot: Slot,
    request: Omit<LoadRequest, 'requestId'> | Omit<UnloadRequest, 'requestId'>,
  ): Promise<LoadedModel | undefined> {
    const requestId = this.nextControlId++;
    return new Promise((resolve, reject) => {
      slot.controls.set(requestId, { key: request.type === 'load' ? specKey(request.spec) : request.key, resolve, reject });
      slot.thread.postMessage({ ...request, requestId });
    });
  }

  /** A load or unload answered. */
  private onControl(slot: Slot, message: Extract<ThreadMessage, { type: 'loaded' | 'load-failed' | 'unloaded' }>): void {
    const waiting = slot.controls.get(message.requestId);
    slot.controls.delete(message.requestId);
    if (message.type === 'loaded') slot.models.add(message.model.key);
    if (message.type === 'unloaded') slot.models.delete(waiting?.key ?? '');
    if (message.type === 'load-failed') waiting?.reject(new Error(message.message));
    else waiting?.resolve(message.type === 'loaded' ? message.model : undefined);
    this.dispatch();
  }

  /** Rejects what a thread that left owed: its loads and unloads fail. */
  private failControls(slot: Slot, why: string): void {
    for (const { reject } of slot.controls.values()) reject(new Error(why));
    slot.controls.clear();
  }

  /**
   * A new thread is ready with the served models it was started with: it is sent what changed
   * since (a model loading now), and told to drop what was unloaded meanwhile.
   */
  private catchUp(slot: Slot): void {
    for (const [key, spec] of this.specs) {
      if (slot.models.has(key)) continue;
      this.control(slot, { type: 'load', spec }).then(
        (model) => {
          if (!this.specs.has(key)) void this.control(slot, { type: 'unload', key }).catch(() => undefined);
          else if (model && this.served.has(key)) this.events.onModelsLoaded?.([model]);
        },
        (error: Error) => this.onThreadExit(`a new inference thread could not load ${key}: ${error.message}`),
      );
    }
    for (const key of slot.models) {
      if (!this.specs.has(key)) void this.control(slot, { type: 'unload', key }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const pending of this.waiting.splice(0)) pending.reject(shuttingDown());
    // Hung threads are left alone: terminating one inside session.run aborts the process when the
    // run returns, and the owner exits without waiting for them (main.ts).
    await Promise.all(this.slots.map((slot) => slot.thread.terminate()));
    // Normally none: the worker stops taking jobs and lets those in hand finish before closing the pool.
    for (const slot of this.slots) for (const requestId of [...slot.inFlight.keys()]) this.release(slot, requestId)?.reject(shuttingDown());
    this.slots.length = 0;
  }

  private spawn(): Promise<LoadedModel[]> {
    return new Promise((resolve, reject) => {
      const retired = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
      // The models served now, not those it started with: a replacement has the current set.
      const models = [...this.specs].filter(([key]) => this.served.has(key)).map(([, spec]) => spec);
      const workerData: ThreadData = { ...this.init, models, retired };
      const thread = new Worker(THREAD_ENTRY, { workerData });
      const slot: Slot = {
        thread,
        retired: new Int32Array(retired),
        inFlight: new Map(),
        busySince: 0,
        deadlines: new StageDeadlines<number>(
          this.limits.stages,
          (requestId, stage, limitMs) => this.timedOut(slot, requestId, stage, limitMs),
          DEADLINE_CLOCK,
        ),
        models: new Set(),
        controls: new Map(),
      };
      let started = false;
      thread.on('message', (message: ThreadMessage) => {
        // A retired thread's late answers are for jobs already failed or handed to another thread.
        if (slot.retiredAt !== undefined) return;
        switch (message.type) {
          case 'ready':
            started = true;
            // A replacement that finished loading after close(): idle, so terminating it is safe.
            if (this.closing) {
              void thread.terminate();
              resolve(message.models);
              return;
            }
            for (const model of message.models) slot.models.add(model.key);
            this.slots.push(slot);
            this.events.onModelsLoaded?.(message.models);
            resolve(message.models);
            this.catchUp(slot);
            this.dispatch();
            return;
          case 'init-failed':
            reject(new ModelLoadError(`Could not load the models: ${message.message}`));
            void thread.terminate();
            return;
          case 'loaded':
          case 'load-failed':
          case 'unloaded':
            this.onControl(slot, message);
            return;
          default:
            this.onMessage(slot, message);
        }
      });
      thread.on('error', (error) => {
        if (!started) reject(error);
        // A retired thread's error concerns jobs already failed or handed to another thread.
        else if (slot.retiredAt === undefined) this.onThreadExit(`inference thread crashed: ${error.message}`);
      });
      thread.on('exit', (code) => {
        this.failControls(slot, `the inference thread exited (code ${code}) while loading or unloading`);
        if (this.hung.delete(slot)) {
          this.events.onHungThreadExit?.((performance.now() - (slot.retiredAt ?? 0)) / 1000);
          return;
        }
        if (!started || this.closing) return;
        // A crash fails every job the thread held (the batch running and those decoded or waiting
        // for the next), each as a retryable failure that BullMQ retries; the thread is replaced.
        const index = this.slots.indexOf(slot);
        if (index >= 0) this.slots.splice(index, 1);
        for (const requestId of [...slot.inFlight.keys()]) {
          this.release(slot, requestId)?.reject(
            new InferenceError(ErrorCode.InferenceFailed, `The inference thread exited (code ${code}).`, true),
          );
        }
        this.onThreadExit(`inference thread exited with code ${code}; starting a new one`);
        this.spawn().catch((error: Error) => this.onThreadExit(`could not restart an inference thread: ${error.message}`));
      });
    });
  }

  private onMessage(
    slot: Slot,
    message: Exclude<ThreadMessage, { type: 'ready' | 'init-failed' | 'loaded' | 'load-failed' | 'unloaded' }>,
  ): void {
    if (message.type === 'batch') {
      this.events.onBatch?.(message.modelKey, message.size, message.ms / 1000);
      return;
    }
    const pending = slot.inFlight.get(message.requestId);
    if (!pending) return;
    if (message.type === 'stage') {
      pending.stages.enter(message.stage, message.at, message.batchSize ? { batchSize: message.batchSize } : undefined);
      slot.deadlines.enter(message.requestId, message.stage, message.at);
      return;
    }
    pending.stages.pause(message.at);
    slot.deadlines.leave(message.requestId, message.at);
    if (message.type === 'waiting') return;
    this.release(slot, message.requestId);
    if (message.type === 'done') pending.resolve(message.output);
    else pending.reject(new InferenceError(message.code, message.message, message.retryable));
    this.dispatch();
  }

  /** Takes a job off its thread; when the thread is left idle, adds its busy stretch to the total. */
  private release(slot: Slot, requestId: number): Pending | undefined {
    const pending = slot.inFlight.get(requestId);
    slot.inFlight.delete(requestId);
    slot.deadlines.leave(requestId, stageClockNow());
    if (pending) this.held -= pending.pixels;
    if (pending && slot.inFlight.size === 0) this.busyMs += performance.now() - slot.busySince;
    return pending;
  }

  /**
   * A job's stage outlasted its limit. The job fails (retryable: BullMQ decides whether another
   * attempt follows). Its thread may be stuck in a native call that nothing can interrupt, and
   * terminating it there would abort the process, so it is retired instead: it gets no more work,
   * leaves by itself once back in JavaScript, and a new thread takes its place (ADR 0009).
   */
  private timedOut(slot: Slot, requestId: number, stage: ThreadStage, limitMs: number): void {
    const pending = this.release(slot, requestId);
    if (!pending) return;
    pending.stages.pause(stageClockNow());
    pending.reject(new StageTimeoutError(stage, limitMs));
    this.retire(slot, stage);
    this.events.onThreadHung?.({ stage, limitMs, hung: this.hung.size });
    if (this.hung.size > this.limits.maxHungThreads) this.events.onTooManyHung?.(this.hung.size);
    this.dispatch();
  }

  /**
   * Takes the slot out of service: the jobs of the same session.run share its fate; the others it
   * held (decoded, waiting for a batch, or not read yet) go back to the head of the line, in order,
   * for another thread. A replacement thread is started.
   */
  private retire(slot: Slot, stage: ThreadStage): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    slot.retiredAt = performance.now();
    this.hung.add(slot);
    Atomics.store(slot.retired, 0, 1);
    slot.thread.postMessage({ type: 'retire' } satisfies PoolMessage);
    this.failControls(slot, 'the inference thread was retired (a stage outlasted its limit) while loading or unloading');
    const requeued: Pending[] = [];
    for (const [requestId, pending] of [...slot.inFlight]) {
      const sameRun = stage === 'inference' && slot.deadlines.stageOf(requestId) === 'inference';
      this.release(slot, requestId);
      pending.stages.pause(stageClockNow());
      if (sameRun) pending.reject(new StageTimeoutError(stage, this.limits.stages.inference));
      else requeued.push(pending);
    }
    slot.deadlines.clear();
    this.waiting.unshift(...requeued);
    if (!this.closing) {
      this.spawn().catch((error: Error) => this.onThreadExit(`could not replace a hung inference thread: ${error.message}`));
    }
  }

  private onThreadExit(message: string): void {
    this.events.onThreadExit?.(message);
  }

  /**
   * Hands waiting jobs, in order, to the least loaded threads with room, while the next one's
   * pixels fit the decode budget beside those held; one larger than the budget goes when nothing
   * else is held (it runs alone, never waits forever). In order: a large image is not overtaken
   * by a stream of small ones.
   */
  private dispatch(): void {
    while (this.waiting.length > 0) {
      const head = this.waiting[0]!;
      if (this.held > 0 && this.held + head.pixels > this.limits.decodeBudgetPixels) return;
      // Threads that have the model; a new thread still catching up on a load gets none of its
      // jobs, unless no thread has it (it then answers model_not_served, retryable).
      const able = this.slots.some((candidate) => candidate.models.has(head.modelKey));
      let slot: Slot | undefined;
      for (const candidate of this.slots) {
        if (able && !candidate.models.has(head.modelKey)) continue;
        if (candidate.inFlight.size < this.perThread && (!slot || candidate.inFlight.size < slot.inFlight.size)) slot = candidate;
      }
      if (!slot) return;
      const next = this.waiting.shift()!;
      const requestId = this.nextRequestId++;
      if (slot.inFlight.size === 0) slot.busySince = performance.now();
      slot.inFlight.set(requestId, next);
      this.held += next.pixels;
      slot.thread.postMessage({
        type: 'run',
        requestId,
        modelKey: next.modelKey,
        input: next.input,
        options: next.options,
        ...(next.raw ? { raw: true } : {}),
      } satisfies PoolMessage);
    }
  }
}
