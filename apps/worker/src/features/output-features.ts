import type { TaskOutputFeatures } from '@fathom/contracts';
import { imageStats, type RgbPixels } from './input-features';

/** Share of the map's range at either end counted as near or far. */
const END_SHARE = 0.1;

/**
 * Depth percentiles are taken over at most this many values, every k-th of the map's (as the pixel
 * statistics are over at most 256 × 256): a 2072×518 map's three selections cost as much as a
 * 256×256 one's. A depth map is smooth, so every k-th value samples it evenly; even for values in
 * random order, a quantile of 65,536 of them is off by √(q(1 − q)/65,536) of the range (≤ 0.2 %).
 */
export const PERCENTILE_SAMPLE = 65_536;

/** Every k-th value, k the smallest step that keeps at most `max` of them; the values themselves when few enough. */
export function strided(values: Float32Array, max: number): Float32Array {
  if (values.length <= max) return values;
  const step = Math.ceil(values.length / max);
  const sample = new Float32Array(Math.ceil(values.length / step));
  for (let i = 0, j = 0; i < values.length; i += step, j++) sample[j] = values[i]!;
  return sample;
}

/**
 * Depth features of the model's float map before normalisation. Relative inverse depth has no
 * units: these describe the map's distribution (larger is nearer), not distances. Non-finite values
 * are left out; percentiles interpolate linearly between ranks (numpy's default), over at most
 * PERCENTILE_SAMPLE evenly strided values; min, max, mean and the near/far shares use every value.
 */
export function depthOutputFeatures(values: Float32Array): TaskOutputFeatures<'depth'> {
  const finite = new Float32Array(values.length);
  let n = 0;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    finite[n++] = v;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (n === 0) return { task: 'depth', min: 0, max: 0, range: 0, mean: 0, p5: 0, p50: 0, p95: 0, near: 0, far: 0 };
  const range = max - min;
  let near = 0;
  let far = 0;
  // A flat map (range 0) is neither near nor far.
  if (range > 0) {
    const nearFrom = max - END_SHARE * range;
    const farTo = min + END_SHARE * range;
    for (let i = 0; i < n; i++) {
      const v = finite[i]!;
      if (v >= nearFrom) near++;
      if (v <= farTo) far++;
    }
  }
  const sample = strided(finite.subarray(0, n), PERCENTILE_SAMPLE);
  return {
    task: 'depth',
    min,
    max,
    range,
    mean: sum / n,
    p5: percentile(sample, 0.05),
    p50: percentile(sample, 0.5),
    p95: percentile(sample, 0.95),
    near: near / n,
    far: far / n,
  };
}

/**
 * The q-quantile (0..1) of `values` by linear interpolation between the ranks around q·(n − 1);
 * reorders `values` (Hoare's quickselect, O(n) expected instead of a sort's O(n log n)).
 */
export function percentile(values: Float32Array, q: number): number {
  const n = values.length;
  if (n === 0) throw new Error('percentile of no values');
  const position = q * (n - 1);
  const k = Math.floor(position);
  const low = select(values, k);
  if (k + 1 >= n || position === k) return low;
  // After selecting k, everything right of k is ≥ it: the next rank is their minimum.
  let high = Infinity;
  for (let i = k + 1; i < n; i++) if (values[i]! < high) high = values[i]!;
  return low + (position - k) * (high - low);
}

/** The k-th smallest value (0-based), leaving smaller values left of k and larger ones right. */
function select(values: Float32Array, k: number): number {
  let left = 0;
  let right = values.length - 1;
  while (right > left) {
    const pivot = values[(left + right) >> 1]!;
    let i = left;
    let j = right;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i] = values[j]!;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return values[k]!;
}

/** Segmentation features from the pixel count per class and the class labels. */
export function segmentationOutputFeatures(counts: readonly number[], labels: readonly string[]): TaskOutputFeatures<'segmentation'> {
  const total = counts.reduce((a, b) => a + b, 0);
  const shares: Record<string, number> = {};
  let top = -1;
  let present = 0;
  counts.forEach((count, index) => {
    if (count <= 0) return;
    present++;
    const label = labels[index] ?? `class_${index}`;
    shares[label] = (shares[label] ?? 0) + count / total;
    if (top < 0 || count > counts[top]!) top = index;
  });
  return {
    task: 'segmentation',
    shares,
    topLabel: top < 0 ? '' : (labels[top] ?? `class_${top}`),
    topShare: top < 0 ? 0 : counts[top]! / total,
    classesPresent: present,
  };
}

/**
 * Classification features from the full probability vector (after softmax where the model gives
 * logits). Entropy is in nats over the vector normalised to sum 1 (a sigmoid model's do not).
 */
export function classificationOutputFeatures(
  probabilities: ArrayLike<number>,
  labels: readonly string[] | undefined,
): TaskOutputFeatures<'classification'> {
  const classes = probabilities.length;
  if (classes === 0) throw new Error('a classification needs at least one class probability');
  let sum = 0;
  let top = 0;
  for (let i = 0; i < classes; i++) {
    sum += probabilities[i]!;
    if (probabilities[i]! > probabilities[top]!) top = i;
  }
  let entropy = 0;
  if (sum > 0) {
    for (let i = 0; i < classes; i++) {
      const p = probabilities[i]! / sum;
      if (p > 0) entropy -= p * Math.log(p);
    }
  }
  return {
    task: 'classification',
    topLabel: labels?.[top] ?? String(top),
    topProbability: Math.min(1, Math.max(0, probabilities[top]!)),
    entropy: Math.max(0, entropy),
    classes,
  };
}

export interface ScoredBox {
  /** Corners, in pixels of the image of size `size`. */
  points: ReadonlyArray<readonly [number, number]>;
  score: number;
}

/**
 * Text detection features: box count, mean score and the share of the image the boxes cover
 * (union of each box's axis-aligned bounds, clipped to the image, so overlaps count once).
 */
export function textDetectionOutputFeatures(
  boxes: readonly ScoredBox[],
  size: { width: number; height: number },
): TaskOutputFeatures<'text-detection'> {
  const rects = boxes.map(({ points }) => {
    const xs = points.map(([x]) => x);
    const ys = points.map(([, y]) => y);
    return {
      x0: Math.max(0, Math.min(...xs)),
      x1: Math.min(size.width, Math.max(...xs)),
      y0: Math.max(0, Math.min(...ys)),
      y1: Math.min(size.height, Math.max(...ys)),
    };
  });
  const area = size.width * size.height;
  return {
    task: 'text-detection',
    boxes: boxes.length,
    meanScore: boxes.length === 0 ? null : boxes.reduce((a, b) => a + b.score, 0) / boxes.length,
    textArea: area > 0 ? Math.min(1, unionArea(rects) / area) : 0,
  };
}

/** Area of a union of rectangles: sweep the slabs between x edges, merging the y intervals in each. O(n² log n). */
export function unionArea(rects: ReadonlyArray<{ x0: number; x1: number; y0: number; y1: number }>): number {
  const kept = rects.filter((r) => r.x1 > r.x0 && r.y1 > r.y0);
  const xs = [...new Set(kept.flatMap((r) => [r.x0, r.x1]))].sort((a, b) => a - b);
  let total = 0;
  for (let s = 0; s + 1 < xs.length; s++) {
    const left = xs[s]!;
    const right = xs[s + 1]!;
    const spans = kept
      .filter((r) => r.x0 <= left && r.x1 >= right)
      .map((r) => [r.y0, r.y1] as const)
      .sort((a, b) => a[0] - b[0]);
    let covered = 0;
    let end = -Infinity;
    for (const [y0, y1] of spans) {
      if (y1 <= end) continue;
      covered += y1 - Math.max(y0, end);
      end = y1;
    }
    total += covered * (right - left);
  }
  return total;
}

/** Image-to-image features: the returned image's size, the model's scale and its pixel statistics (imageStats, at ≤ 256 px). */
export function imageToImageOutputFeatures(output: RgbPixels, scale: number): TaskOutputFeatures<'image-to-image'> {
  const { histogram: _histogram, ...stats } = imageStats(output);
  return { task: 'image-to-image', width: output.width, height: output.height, scale, ...stats };
}
