import type { TaskPipeline } from '../task-pipeline';
import { pngArtifact } from '../task-pipeline';
import { encodeDenseMap, normalizeDenseMap } from '../dense-map/dense-map.postprocess';
import { denseMapValues } from '../dense-map/dense-map.values';
import { encodeNpyFloat32, resizeFloatMap } from '../../imaging/float-map';
import { depthOutputFeatures } from '../../features/output-features';
import type { Size } from '../../imaging/resize-plan';

/**
 * Relative inverse depth → a depth map PNG at the input's size (near = bright). The map stays at
 * the model's size until the encoder enlarges it, in the same pass that writes the PNG. An
 * evaluation job also gets `raw`: the model's float32 output enlarged to the input's size, as .npy,
 * which the metrics compare with metric ground truth.
 */
export const depthTask: TaskPipeline<'depth', { map: Uint16Array; size: Size; min: number; max: number; values: Float32Array }> = {
  drawsOnInput: false,

  async postprocess({ spec, output }) {
    const { values, size } = denseMapValues(output);
    const { normalized, min, max } = normalizeDenseMap(values, spec.output.range);
    // The float map is kept for the output's features (before normalisation), and for `raw`.
    return { map: normalized, size, min, max, values };
  },

  async encode({ map, size, min, max, values }, { image, options, modelInput, raw, png: encoding }) {
    const { png } = await encodeDenseMap(map, size, image, options, encoding);
    const artifacts: Awaited<ReturnType<typeof depthTask.encode>>['artifacts'] = [pngArtifact('depth', png, image)];
    if (raw) {
      const bytes = encodeNpyFloat32(resizeFloatMap(values, size, image), image);
      artifacts.push({ name: 'raw', bytes, contentType: 'application/x-npy', extension: 'npy', width: image.width, height: image.height });
    }
    return {
      primary: 'depth',
      artifacts,
      summary: {
        task: 'depth',
        output: options.output,
        colormap: options.output === 'colormap' ? options.colormap : undefined,
        min,
        max,
        modelInput,
      },
      features: () => depthOutputFeatures(values),
    };
  },
};
