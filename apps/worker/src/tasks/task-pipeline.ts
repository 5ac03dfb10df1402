import type { ArtifactName, TaskArtifactName, TaskName, TaskOptionsMap, TaskOutputFeatures, TaskSummary } from '@fathom/contracts';
import type { RgbImage } from '../imaging/image-decoder';
import type { PngEncoding } from '../imaging/png-encoding';
import type { Size } from '../imaging/resize-plan';
import type { ModelSpec } from '@fathom/models';
import type { PreparedInput } from './model-input.preprocess';

/** A model output as plain numbers: onnxruntime's tensor without the runtime. */
export interface TensorView {
  data: Float32Array;
  dims: readonly number[];
}

export interface TaskInput<T extends TaskName> {
  spec: ModelSpec;
  /** The input's size as displayed (EXIF orientation applied): results are drawn at this size. */
  image: Size;
  /** The input's full-size pixels: only for a pipeline that draws on them (drawsOnInput). */
  rgb?: RgbImage;
  /** The size the model ran at. */
  modelInput: Size;
  options: TaskOptionsMap[T];
  /** An evaluation job (job data `evaluation`): add the task's raw output artifact where it has one. */
  raw?: boolean;
  output: TensorView;
  /** How PNG artifacts are written. */
  png: PngEncoding;
}

export interface EncodedArtifact<A extends ArtifactName = ArtifactName> {
  name: A;
  bytes: Uint8Array;
  contentType: string;
  /** File extension for downloads, without the dot. */
  extension: string;
  width?: number;
  height?: number;
}

/** A job's result, in the names and summary its task declares (TASKS in libs/contracts). */
export interface TaskResult<T extends TaskName = TaskName> {
  primary: TaskArtifactName<T>;
  artifacts: EncodedArtifact<TaskArtifactName<T>>[];
  summary: TaskSummary<T>;
  /**
   * The output's features for the prediction log (issue 15), from the numbers this task already
   * holds. Computed when called, apart from the result: the pipeline calls it where a feature that
   * throws leaves the log without it instead of failing the job.
   */
  features: () => TaskOutputFeatures<T>;
}

/**
 * A task's post-processing, in two timed stages: `postprocess` turns the model's numbers into
 * results (maps may stay at the model's size), `encode` turns those into downloadable artifacts
 * at the input's displayed size.
 */
export interface TaskPipeline<T extends TaskName, P> {
  /** True when results are drawn over the input's pixels: the worker then keeps them at full size. */
  readonly drawsOnInput: boolean;
  /**
   * Upload bytes → the model's input, for a task whose input is not one resized image (tiles);
   * without it, prepareModelInput. Whatever `rgb` it keeps is what postprocess and encode get.
   */
  prepare?(bytes: Buffer, spec: ModelSpec, opts: { maxPixels: number; onPreprocess?: () => void }): Promise<PreparedInput>;
  postprocess(input: TaskInput<T>): Promise<P>;
  encode(processed: P, input: TaskInput<T>): Promise<TaskResult<T>>;
}

/** The input's full-size pixels, which only a pipeline that draws on the input is given. */
export function inputPixels(input: { rgb?: RgbImage }): RgbImage {
  if (!input.rgb) throw new Error('this task draws on the input, but its pixels were not kept (drawsOnInput)');
  return input.rgb;
}

export function jsonArtifact<A extends ArtifactName>(name: A, value: unknown): EncodedArtifact<A> {
  return { name, bytes: Buffer.from(JSON.stringify(value)), contentType: 'application/json', extension: 'json' };
}

export function pngArtifact<A extends ArtifactName>(name: A, png: Buffer, size: Size): EncodedArtifact<A> {
  return { name, bytes: png, contentType: 'image/png', extension: 'png', width: size.width, height: size.height };
}
