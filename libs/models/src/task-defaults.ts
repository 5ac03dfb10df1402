import type { TaskName } from '@fathom/contracts';
import { IMAGENET_MEAN, IMAGENET_STD, type InputSpec, type OutputSpec } from './model-spec';

const IMAGENET = { mean: IMAGENET_MEAN, std: IMAGENET_STD } as const;

/**
 * Each task's reference contract, filled in where a manifest is silent: Depth Anything V2 for
 * depth, a DB text detector for text-detection; segmentation and classification models vary too
 * much for defaults beyond layout and ImageNet scaling, so their manifests name their tensors.
 * image-to-image follows the ONNX model zoo's super-resolution-10 (sub-pixel CNN): Y in [0, 1],
 * 224×224 tiles, Y in [0, 1] out.
 */
export const TASK_DEFAULTS: Record<TaskName, { input: InputSpec; output: OutputSpec }> = {
  depth: {
    input: {
      name: 'pixel_values',
      layout: 'NCHW',
      channels: 'RGB',
      resize: { mode: 'keep-aspect', multiple: 14, target: 518, fit: 'lower-bound', maxSide: 518 * 4 },
      ...IMAGENET,
    },
    output: { name: 'predicted_depth', layout: 'NCHW', kind: 'values', range: { kind: 'minmax' } },
  },
  'text-detection': {
    input: {
      name: 'x',
      layout: 'NCHW',
      channels: 'RGB',
      resize: { mode: 'keep-aspect', multiple: 32, target: 960, fit: 'upper-bound', maxSide: 960 },
      ...IMAGENET,
    },
    output: { name: 'sigmoid_0.tmp_0', layout: 'NCHW', kind: 'probabilities', range: { kind: 'fixed', min: 0, max: 1 } },
  },
  segmentation: {
    input: { name: 'input', layout: 'NCHW', channels: 'RGB', resize: { mode: 'fixed', width: 512, height: 512 }, ...IMAGENET },
    output: { name: 'output', layout: 'NCHW', kind: 'logits', range: { kind: 'minmax' } },
  },
  classification: {
    input: { name: 'input', layout: 'NCHW', channels: 'RGB', resize: { mode: 'fixed', width: 224, height: 224 }, ...IMAGENET },
    output: { name: 'output', layout: 'NCHW', kind: 'logits', range: { kind: 'minmax' } },
  },
  'image-to-image': {
    input: {
      name: 'input',
      layout: 'NCHW',
      channels: 'Y',
      resize: { mode: 'fixed', width: 224, height: 224 },
      mean: [0, 0, 0],
      std: [1, 1, 1],
    },
    output: { name: 'output', layout: 'NCHW', kind: 'values', range: { kind: 'fixed', min: 0, max: 1 } },
  },
};
