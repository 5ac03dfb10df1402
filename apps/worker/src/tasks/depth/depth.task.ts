import type { TaskPipeline } from '../task-pipeline';
import { pngArtifact } from '../task-pipeline';
import { encodeDenseMap, normalizeDenseMap, resizeDenseMap } from '../dense-map/dense-map.postprocess';
import { denseMapValues } from '../dense-map/dense-map.values';

/** Relative inverse depth → a depth map PNG at the input's size (near = bright). */
export const depthTask: TaskPipeline<'depth', { map: Uint16Array; min: number; max: number }> = {
  async postprocess({ spec, rgb, output }) {
    const { values, size } = denseMapValues(output);
    const { normalized, min, max } = normalizeDenseMap(values, spec.output.range);
    return { map: await resizeDenseMap(normalized, size, rgb), min, max };
  },

  async encode({ map, min, max }, { rgb, options, modelInput }) {
    const { png } = await encodeDenseMap(map, rgb, options);
    return {
      primary: 'depth',
      artifacts: [pngArtifact('depth', png, rgb)],
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
