import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { ErrorCode, FathomError, type JobStage, type TaskOptions } from '@fathom/contracts';
import type { LoadedModel, RunOutput, ThreadInit, ThreadMessage } from './thread-protocol';

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

interface Pending {
  modelKey: string;
  input: Uint8Array;
  options: TaskOptions;
  onStage: (stage: JobStage) => void;
  resolve: (output: RunOutput) => void;
  reject: (error: Error) => void;
}

interface Slot {
  thread: Worker;
  busy: (Pending & { requestId: number; startedAt: number }) | null;
}

/** What the pool tells its owner: problems with threads, and the sessions each new thread loaded. */
export interface PoolEvents {
  onThreadExit?: (message: string) => void;
  /** Every thread that becomes ready (at start and when one is replaced after a crash). */
  onModelsLoaded?: (models: LoadedModel[]) => void;
}

const THREAD_ENTRY = join(__dirname, 'inference.thread.js');

/**
 * Inference threads, each with its own sessions, fed one job at a time. The main thread only moves
 * bytes and messages, so its event loop stays free for BullMQ's lock renewal and heartbeats.
 */
export class InferencePool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Pending[] = [];
  private nextRequestId = 1;
  private closing = false;
  /** Milliseconds threads spent on finished runs; runs in progress are added when read. */
  private busyMs = 0;
  /** Filled once every thread has loaded and warmed up its models. */
  loadedModels: LoadedModel[] = [];

  constructor(
    private readonly init: ThreadInit,
    private readonly threads: number,
    private readonly events: PoolEvents = {},
  ) {}

  /** Inference threads this pool runs. */
  get size(): number {
    return this.threads;
  }

  /** Seconds inference threads have spent on jobs so far, including the runs still going. */
  busySeconds(): number {
    const now = performance.now();
    const running = this.slots.reduce((sum, slot) => sum + (slot.busy ? now - slot.busy.startedAt : 0), 0);
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

  run(modelKey: string, input: Uint8Array, options: TaskOptions, onStage: (stage: JobStage) => void): Promise<RunOutput> {
    if (this.closing) return Promise.reject(new InferenceError(ErrorCode.ServiceUnavailable, 'The worker is shutting down.', true));
    return new Promise<RunOutput>((resolve, reject) => {
      this.waiting.push({ modelKey, input, options, onStage, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const pending of this.waiting.splice(0)) pending.reject(new InferenceError(ErrorCode.ServiceUnavailable, 'The worker is shutting down.', true));
    await Promise.all(this.slots.map((slot) => slot.thread.terminate()));
    this.slots.length = 0;
  }

  private spawn(): Promise<LoadedModel[]> {
    return new Promise((resolve, reject) => {
      const thread = new Worker(THREAD_ENTRY, { workerData: this.init });
      const slot: Slot = { thread, busy: null };
      let started = false;
      thread.on('message', (message: ThreadMessage) => {
        switch (message.type) {
          case 'ready':
            started = true;
            this.slots.push(slot);
            this.events.onModelsLoaded?.(message.models);
            resolve(message.models);
            this.dispatch();
            return;
          case 'init-failed':
            reject(new ModelLoadError(`Could not load the models: ${message.message}`));
            void thread.terminate();
            return;
          default:
            this.onMessage(slot, message);
        }
      });
      thread.on('error', (error) => {
        if (!started) reject(error);
        else this.onThreadExit(`inference thread crashed: ${error.message}`);
      });
      thread.on('exit', (code) => {
        if (!started || this.closing) return;
        // A crash loses only the job it was running, which BullMQ retries; the thread is replaced.
        const index = this.slots.indexOf(slot);
        if (index >= 0) this.slots.splice(index, 1);
        this.release(slot)?.reject(new InferenceError(ErrorCode.InferenceFailed, `The inference thread exited (code ${code}).`, true));
        this.onThreadExit(`inference thread exited with code ${code}; starting a new one`);
        this.spawn().catch((error: Error) => this.onThreadExit(`could not restart an inference thread: ${error.message}`));
      });
    });
  }

  private onMessage(slot: Slot, message: Exclude<ThreadMessage, { type: 'ready' | 'init-failed' }>): void {
    const busy = slot.busy;
    if (!busy || busy.requestId !== message.requestId) return;
    if (message.type === 'stage') {
      busy.onStage(message.stage);
      return;
    }
    this.release(slot);
    if (message.type === 'done') busy.resolve(message.output);
    else busy.reject(new InferenceError(message.code, message.message, message.retryable));
    this.dispatch();
  }

  /** Frees a slot, adding the time its run took to the busy total. */
  private release(slot: Slot): Slot['busy'] {
    const busy = slot.busy;
    if (busy) this.busyMs += performance.now() - busy.startedAt;
    slot.busy = null;
    return busy;
  }

  private onThreadExit(message: string): void {
    this.events.onThreadExit?.(message);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.busy) continue;
      const next = this.waiting.shift();
      if (!next) return;
      const requestId = this.nextRequestId++;
      slot.busy = { ...next, requestId, startedAt: performance.now() };
      slot.thread.postMessage({ type: 'run', requestId, modelKey: next.modelKey, input: next.input, options: next.options });
    }
  }
}
