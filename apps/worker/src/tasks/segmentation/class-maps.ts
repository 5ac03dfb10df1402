import type { TensorView } from '../task-pipeline';

export interface ClassScores {
  channels: number;
  width: number;
  height: number;
  /** Score of class `c` at pixel `i` (row-major). */
  at(c: number, i: number): number;
}

/** Per-pixel class scores from [N,C,H,W] (NCHW) or [N,H,W,C] (NHWC), first image. */
export function classScores(output: TensorView, layout: 'NCHW' | 'NHWC'): ClassScores {
  const dims = output.dims;
  if (dims.length !== 4) throw new Error(`Expected per-pixel class scores [N,C,H,W] or [N,H,W,C], got [${dims.join(',')}].`);
  const data = output.data;
  if (layout === 'NCHW') {
    const [, channels = 0, height = 0, width = 0] = dims;
    const plane = width * height;
    return { channels, width, height, at: (c, i) => data[c * plane + i]! };
  }
  const [, height = 0, width = 0, channels = 0] = dims;
  return { channels, width, height, at: (c, i) => data[i * channels + c]! };
}

/** The highest-scoring class per pixel (softmax does not change the order, so logits will do). */
export function argmaxClasses(scores: ClassScores): Uint8Array {
  if (scores.channels > 256) throw new Error(`${scores.channels} classes do not fit an 8-bit mask.`);
  const pixels = scores.width * scores.height;
  const classes = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) {
    let best = 0;
    let bestScore = scores.at(0, i);
    for (let c = 1; c < scores.channels; c++) {
      const s = scores.at(c, i);
      if (s > bestScore) {
        bestScore = s;
        best = c;
      }
    }
    classes[i] = best;
  }
  return classes;
}

export function classCounts(classes: Uint8Array, channels: number): number[] {
  const counts = new Array<number>(channels).fill(0);
  for (const c of classes) counts[c] = (counts[c] ?? 0) + 1;
  return counts;
}

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** The PASCAL VOC colour palette: class i's colour from the bits of i, spread over R, G and B. */
export function vocPalette(size: number): Uint8Array {
  const palette = new Uint8Array(size * 3);
  for (let i = 0; i < size; i++) {
    let c = i;
    let r = 0;
    let g = 0;
    let b = 0;
    for (let bit = 7; c > 0; bit--, c >>= 3) {
      r |= (c & 1) << bit;
      g |= ((c >> 1) & 1) << bit;
      b |= ((c >> 2) & 1) << bit;
    }
    palette.set([r, g, b], i * 3);
  }
  return palette;
}

/** Index of the background class: the label named so, else class 0. */
export function backgroundIndex(labels: readonly string[]): number {
  const index = labels.findIndex((l) => /^_*background_*$/i.test(l.trim()));
  return index >= 0 ? index : 0;
}
