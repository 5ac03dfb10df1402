import type { ErrorCode, ExecutionProvider, JobStage, ResultSummary, TaskOptions } from '@fathom/contracts';
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
  /**
   * Benchmarks only (WORKER_SIMULATED_INFERENCE_MS): after each session.run the thread blocks this
   * long without using the CPU, standing in for a GPU's latency. 0 in service.
   */
  simulatedInferenceMs: number;
  png: PngEncoding;
}

export interface RunRequest {
  type: 'run';
  requestId: number;
  modelKey: string;
  input: Uint8Array;
  options: TaskOptions;
}

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

export interface RunOutput {
  primary: EncodedArtifact['name'];
  artifacts: EncodedArtifact[];
  /** The input's size as displayed. */
  width: number;
  height: number;
  summary: ResultSummary;
  timings: StageTimes;
  executionProvider: ExecutionProvider;
}

export type ThreadMessage =
  | { type: 'ready'; models: LoadedModel[] }
  | { type: 'init-failed'; message: string }
  /** `batchSize` comes with the inference stage: how many jobs share its session.run. */
  | { type: 'stage'; requestId: number; stage: JobStage; batchSize?: number }
  /** One session.run done: how many jobs it took, and how long it took. */
  | { type: 'batch'; modelKey: string; size: number; ms: number }
  | { type: 'done'; requestId: number; output: RunOutput }
  | { type: 'failed'; requestId: number; code: ErrorCode; message: string; retryable: boolean };
