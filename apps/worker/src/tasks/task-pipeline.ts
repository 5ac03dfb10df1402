import type { ArtifactName, ResultSummary, TaskName, TaskOptionsMap } from '@fathom/contracts';
import type { RgbImage } from '../imaging/image-decoder';
import type { PngEncoding } from '../imaging/png-encoding';
import type { Size } from '../imaging/resize-plan';
import type { ModelSpec } from '@fathom/models';

/** A model output as plain numbers: onnxruntime's tensor without the runtime. */
export interface TensorView {
  data: Float32Array;
  dims: readonly number[];
}

export interface TaskInput<T extends TaskName> {
  spec: ModelSpec;
  /** The decoded input, as displayed: results are drawn at this size. */
  rgb: RgbImage;
  /** The size the model ran at. */
  modelInput: Size;
  options: TaskOptionsMap[T];
  output: TensorView;
  /** How PNG artifacts are written. */
  png: PngEncoding;
}

export interface EncodedArtifact {
  name: ArtifactName;
  bytes: Uint8Array;
  contentType: string;
  /** File extension for downloads, without the dot. */
  extension: string;
  width?: number;
  height?: number;
}

export interface TaskResult {
  primary: ArtifactName;
  artifacts: EncodedArtifact[];
  summary: ResultSummary;
}

/**
 * A task's post-processing, in two timed stages: `postprocess` turns the model's numbers into
 * results at the input's size, `encode` turns those into downloadable artifacts.
 */
export interface TaskPipeline<T extends TaskName, P> {
  postprocess(input: TaskInput<T>): Promise<P>;
  encode(processed: P, input: TaskInput<T>): Promise<TaskResult>;
}

export function jsonArtifact(name: ArtifactName, value: unknown): EncodedArtifact {
  return { name, bytes: Buffer.from(JSON.stringify(value)), contentType: 'application/json', extension: 'json' };
}

export function pngArtifact(name: ArtifactName, png: Buffer, size: Size): EncodedArtifact {
  return { name, bytes: png, contentType: 'image/png', extension: 'png', width: size.width, height: size.height };
}
