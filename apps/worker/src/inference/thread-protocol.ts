import type { ErrorCode, ExecutionProvider, JobStage, ResultSummary, TaskOptions } from '@fathom/contracts';
import type { EncodedArtifact } from '../tasks/task-pipeline';
import type { ModelSpec } from '@fathom/models';

/** What an inference thread is started with. */
export interface ThreadInit {
  models: ModelSpec[];
  intraOpThreads: number;
  executionProviders: string[];
  maxPixels: number;
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
  | { type: 'stage'; requestId: number; stage: JobStage }
  | { type: 'done'; requestId: number; output: RunOutput }
  | { type: 'failed'; requestId: number; code: ErrorCode; message: string; retryable: boolean };

