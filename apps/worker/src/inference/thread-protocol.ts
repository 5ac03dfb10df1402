import { performance } from 'node:perf_hooks';
import type { ErrorCode, ExecutionProvider, InputFeatures, JobStage, OutputFeatures, ResultSummary, TaskOptions } from '@fathom/contracts';
import type { PngEncoding } from '../imaging/png-encoding';
import type { EncodedArtifact } from '../tasks/task-pipeline';
import type { ModelSpec } from '@fathom/models';

/** What an inference thread is started with. */
export interface ThreadInit {
  models: ModelSpec[];
  intraOpThreads: number;
  executionProviders: string[];
  maxPixels: number;
  /** libvips threads per image operation (sharp.concurrency). */
  sharpThreads: number;
  png: PngEncoding;
}

/**
 * What a thread is started with: the init every thread shares, and its own retire flag (one Int32
 * the pool sets to 1, ADR 0009): read before and after each session.run, so a thread whose run
 * outlasted its limit never starts another and leaves as soon as the run returns.
 */
export interface ThreadData extends ThreadInit {
  retired: SharedArrayBuffer;
}

export interface RunRequest {
  type: 'run';
  requestId: number;
  modelKey: string;
  input: Uint8Array;
  options: TaskOptions;
  /** An evaluation job: also return the task's raw output artifact where it has one (depth's float32 `raw`). */
  raw?: boolean;
}

/** The pool gave up on this thread: leave. Read only when its event loop is free, so never with session.run on its stack. */
export interface RetireRequest {
  type: 'retire';
}

/** Load and warm up one more model at runtime (a registered deployment, ADR 0015); answered `loaded` or `load-failed`. */
export interface LoadRequest {
  type: 'load';
  requestId: number;
  spec: ModelSpec;
}

/** Release a model's session (the pool sends it once no job of that model is left); answered `unloaded`. */
export interface UnloadRequest {
  type: 'unload';
  requestId: number;
  key: string;
}

/** What the main thread sends an inference thread. */
export type PoolMessage = RunRequest | RetireRequest | LoadRequest | UnloadRequest;

export interface LoadedModel {
  key: string;
  executionProvider: ExecutionProvider;
  /** Set when the configured provider could not be used and the session fell back to CPU. */
  fallbackFrom?: string;
  loadMs: number;
  warmupMs: number;
  /** The largest batch one session.run takes (1 when the manifest asks for none or the model cannot). */
  maxBatch: number;
  /** Why batching the manifest asked for is off (e.g. a fixed batch axis), when it is. */
  batchingOff?: string;
}

export interface StageTimes {
  decode: number;
  preprocess: number;
  inference: number;
  postprocess: number;
  encode: number;
}

/** The stages a job goes through on an inference thread, each timed (StageTimes). */
export type ThreadStage = keyof StageTimes & JobStage;

/**
 * Milliseconds on a clock every thread of the process shares (each thread's `performance` has its
 * own origin): stage messages carry the time they happened, so a stage's duration is measured
 * where it ran, not when its message reached the main thread.
 */
export const stageClockNow = (): number => performance.timeOrigin + performance.now();

export interface RunOutput {
  primary: EncodedArtifact['name'];
  artifacts: EncodedArtifact[];
  /** The input's size as displayed. */
  width: number;
  height: number;
  summary: ResultSummary;
  executionProvider: ExecutionProvider;
  /** What the prediction log keeps of the job (issue 15); a feature that could not be computed is left out, never failing the job. */
  features: PredictionFeatures;
}

/** Which of a job's features: the input's or the output's. */
export type FeatureSide = 'input' | 'output';

/** A job's features for the prediction log: the input's (model-input pixels) and the output's (per task). */
export interface PredictionFeatures {
  input?: InputFeatures;
  output?: OutputFeatures;
  /** The sides whose computation threw or broke the contract, so left out: counted by the main thread (fathom_prediction_features_skipped_total). */
  skipped?: FeatureSide[];
}

export type ThreadMessage =
  | { type: 'ready'; models: LoadedModel[] }
  | { type: 'init-failed'; message: string }
  /** Answers to LoadRequest and UnloadRequest, by their requestId (a sequence of its own, apart from jobs'). */
  | { type: 'loaded'; requestId: number; model: LoadedModel }
  | { type: 'load-failed'; requestId: number; message: string }
  | { type: 'unloaded'; requestId: number }
  /** The job entered `stage` at `at` (stageClockNow); `batchSize` comes with inference: how many jobs share its session.run. */
  | { type: 'stage'; requestId: number; stage: ThreadStage; at: number; batchSize?: number }
  /** The job left its stage at `at` and waits for a batch (a wait that belongs to no stage). */
  | { type: 'waiting'; requestId: number; at: number }
  /** One session.run done: how many jobs it took, and how long it took. */
  | { type: 'batch'; modelKey: string; size: number; ms: number }
  | { type: 'done'; requestId: number; at: number; output: RunOutput }
  | { type: 'failed'; requestId: number; at: number; code: ErrorCode; message: string; retryable: boolean };
