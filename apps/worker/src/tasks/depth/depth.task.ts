import type { TaskPipeline } from '../task-pipeline';
import { pngArtifact } from '../task-pipeline';
import { encodeDenseMap, normalizeDenseMap } from '../dense-map/dense-map.postprocess';
import { denseMapValues } from '../dense-map/dense-map.values';
import type { Size } from '../../imaging/resize-plan';

/**
 * Relative inverse depth → a depth map PNG at the input's size (near = bright). The map stays at
 * the model's size until the encoder enlarges it, in the same pass that writes the PNG.
 */
export const depthTask: TaskPipeline<'depth', { map: Uint16Array; size: Size; min: number; max: number }> = {
  drawsOnInput: false,

  async postprocess({ spec, output }) {
    const { values, size } = denseMapValues(output);
    const { normalized, min, max } = normalizeDenseMap(values, spec.output.range);
    return { map: normalized, size, min, max };
  },

  async encode({ map, size, min, max }, { image, options, modelInput, png: encoding }) {
    const { png } = await encodeDenseMap(map, size, image, options, encoding);
    return {
      primary: 'depth',
      artifacts: [pngArtifact('depth', png, image)],
      summary: {
        task: 'depth',
        output: options.output,
        colormap: options.output === 'colormap' ? options.colormap : undefined,
        min,
        max,
        modelInput,
      },
    };
  },
};
