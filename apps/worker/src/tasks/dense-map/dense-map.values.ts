import type { Size } from '../../imaging/resize-plan';
import type { TensorView } from '../task-pipeline';

/** The first image of a dense output, [N,H,W] or [N,1,H,W], with its size. */
export function denseMapValues(output: TensorView): { values: Float32Array; size: Size } {
  const dims = output.dims;
  const size = { width: dims[dims.length - 1] ?? 0, height: dims[dims.length - 2] ?? 0 };
  if (dims.length < 2 || dims.length > 4 || (dims.length === 4 && dims[1] !== 1)) {
    throw new Error(`Expected a dense map [N,H,W] or [N,1,H,W], got [${dims.join(',')}].`);
  }
  return { values: output.data.subarray(0, size.width * size.height), size };
}
