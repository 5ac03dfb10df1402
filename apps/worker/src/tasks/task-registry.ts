import type { TaskName } from '@fathom/contracts';
import { classificationTask } from './classification/classification.task';
import { depthTask } from './depth/depth.task';
import { segmentationTask } from './segmentation/segmentation.task';
import type { TaskPipeline } from './task-pipeline';
import { textDetectionTask } from './text-detection/text-detection.task';

/** Every task the contracts name has a pipeline: a missing one fails to compile, not at run time. */
export const TASK_PIPELINES: { [T in TaskName]: TaskPipeline<T, never> } = {
  depth: depthTask as TaskPipeline<'depth', never>,
  segmentation: segmentationTask as TaskPipeline<'segmentation', never>,
  classification: classificationTask as TaskPipeline<'classification', never>,
  'text-detection': textDetectionTask as TaskPipeline<'text-detection', never>,
};
