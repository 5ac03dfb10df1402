import type { TaskName, TaskOptions } from '@fathom/contracts';
import type { ModelSpec } from '@fathom/models';
import type { PngEncoding } from '../imaging/png-encoding';
import { classificationTask } from './classification/classification.task';
import { depthTask } from './depth/depth.task';
import { imageToImageTask } from './image-to-image/image-to-image.task';
import { prepareModelInput, type PreparedInput } from './model-input.preprocess';
import { segmentationTask } from './segmentation/segmentation.task';
import type { TaskInput, TaskPipeline, TaskResult, TensorView } from './task-pipeline';
import { textDetectionTask } from './text-detection/text-detection.task';

/** Every task the contracts name has a pipeline: a missing one fails to compile, not at run time. */
export const TASK_PIPELINES: { [T in TaskName]: TaskPipeline<T, never> } = {
  depth: depthTask as TaskPipeline<'depth', never>,
  segmentation: segmentationTask as TaskPipeline<'segmentation', never>,
  classification: classificationTask as TaskPipeline<'classification', never>,
  'text-detection': textDetectionTask as TaskPipeline<'text-detection', never>,
  'image-to-image': imageToImageTask as TaskPipeline<'image-to-image', never>,
};

/**
 * Upload bytes → the model's input for this model's task, keeping the full-size pixels only for a
 * task that draws on them. `onPreprocess` marks where decoding ends.
 */
export function prepareTaskInput(
  bytes: Buffer,
  spec: ModelSpec,
  opts: { maxPixels: number; onPreprocess?: () => void },
): Promise<PreparedInput> {
  const pipeline = TASK_PIPELINES[spec.task];
  if (pipeline.prepare) return pipeline.prepare(bytes, spec, opts);
  return prepareModelInput(bytes, spec.input, { ...opts, keepPixels: pipeline.drawsOnInput });
}

/** The model's output → the task's artifacts: post-processing, then encoding (`onEncode` marks the step between). */
export async function finishTask(
  spec: ModelSpec,
  prepared: Pick<PreparedInput, 'tensor' | 'image' | 'rgb'>,
  job: { options: TaskOptions; raw?: boolean; output: TensorView; png: PngEncoding; onEncode?: () => void },
): Promise<TaskResult> {
  const pipeline = TASK_PIPELINES[spec.task];
  const { tensor, image, rgb } = prepared;
  const input = {
    spec,
    image,
    rgb,
    modelInput: { width: tensor.width, height: tensor.height },
    options: job.options,
    raw: job.raw === true,
    output: job.output,
    png: job.png,
  } as TaskInput<typeof spec.task>;
  const processed = await pipeline.postprocess(input as never);
  job.onEncode?.();
  return pipeline.encode(processed, input as never);
}
