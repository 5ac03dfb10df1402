import type { DenseMapOptions, DenseMapSummary, ErrorCode, ExecutionProvider, JobStage } from '@fathom/contracts';
import type { ModelSpec } from '../models/model-spec';

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
  options: DenseMapOptions;
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
  png: Uint8Array;
  contentType: string;
  width: number;
  height: number;
  summary: DenseMapSummary;
  timings: StageTimes;
  executionProvider: ExecutionProvider;
}

export type ThreadMessage =
  | { type: 'ready'; models: LoadedModel[] }
  | { type: 'init-failed'; message: string }
  | { type: 'stage'; requestId: number; stage: JobStage }
  | { type: 'done'; requestId: number; output: RunOutput }
  | { type: 'failed'; requestId: number; code: ErrorCode; message: string; retryable: boolean };

export const modelKey = (spec: Pick<ModelSpec, 'name' | 'version'>) => `${spec.name}@${spec.version}`;
