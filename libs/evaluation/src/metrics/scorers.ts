import type { TaskName } from '@fathom/contracts';
import type { TaskScorer } from '../types';
import { classificationScorer } from './classification.metrics';
import { depthScorer } from './depth.metrics';
import { imageToImageScorer } from './image-to-image.metrics';
import { segmentationScorer } from './segmentation.metrics';
import { textDetectionScorer } from './text-detection.metrics';

/** Each task's metrics, keyed by task so a new task without a scorer does not compile. */
export const SCORERS: { [T in TaskName]: TaskScorer<T> } = {
  depth: depthScorer,
  segmentation: segmentationScorer,
  classification: classificationScorer,
  'text-detection': textDetectionScorer,
  'image-to-image': imageToImageScorer,
};
