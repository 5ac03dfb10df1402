import type { ResizeSpec } from '@fathom/models';

export interface Size {
  width: number;
  height: number;
}

export const sameSize = (a: Size, b: Size): boolean => a.width === b.width && a.height === b.height;

/**
 * The size an image is resized to for a model. keep-aspect/lower-bound is Depth Anything's
 * transform (`keep_aspect_ratio`, `ensure_multiple_of`, `resize_method='lower_bound'`): the shorter
 * side reaches `target`, both sides multiples. upper-bound is PaddleOCR's det resize: the longer
 * side at most `target`, never upscaled. Both are then capped at `maxSide`.
 */
export function planModelInputSize(width: number, height: number, spec: ResizeSpec): Size {
  if (spec.mode === 'fixed') return { width: spec.width, height: spec.height };
  const { multiple, target, maxSide } = spec;
  let scale: number;
  if (spec.fit === 'lower-bound') scale = Math.max(target / width, target / height);
  else scale = Math.min(1, target / Math.max(width, height));
  let w = width * scale;
  let h = height * scale;
  if (Math.max(w, h) > maxSide) {
    const shrink = maxSide / Math.max(w, h);
    w *= shrink;
    h *= shrink;
    return { width: floorTo(w, multiple), height: floorTo(h, multiple) };
  }
  if (spec.fit === 'lower-bound') return { width: atLeast(w, multiple, target), height: atLeast(h, multiple, target) };
  return { width: nearest(w, multiple), height: nearest(h, multiple) };
}

/** Depth Anything's constrain_to_multiple_of(x, min_val): round, but not below the lower bound. */
function atLeast(x: number, multiple: number, minimum: number): number {
  let y = Math.round(x / multiple) * multiple;
  if (y < minimum) y = Math.ceil(x / multiple) * multiple;
  return Math.max(multiple, y);
}

function nearest(x: number, multiple: number): number {
  return Math.max(multiple, Math.round(x / multiple) * multiple);
}

function floorTo(x: number, multiple: number): number {
  return Math.max(multiple, Math.floor(x / multiple) * multiple);
}
