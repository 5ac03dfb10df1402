import type { DepthPrediction, DepthTruth, ScoreOptions } from '../types';
import { fitScaleAndShift } from './depth.metrics';

/**
 * Where a depth sample is scored: the dataset's mask (when it has one), a finite depth above 0,
 * and inside the dataset's `depth.range` (when it has one). 1 = scored.
 */
export function depthValidMask(truth: DepthTruth, options: ScoreOptions): Uint8Array {
  const { depth, valid } = truth;
  const min = options.depthRange?.min ?? 0;
  const max = options.depthRange?.max ?? Infinity;
  const mask = new Uint8Array(depth.length);
  for (let i = 0; i < depth.length; i++) {
    const d = depth[i]!;
    mask[i] = (valid === undefined || valid[i] !== 0) && Number.isFinite(d) && d > 0 && d >= min && d <= max ? 1 : 0;
  }
  return mask;
}

/**
 * The prediction in metres, as the metrics compare it with the ground truth. `metric` models are
 * taken as they are; `relative-inverse` ones (the default: Depth Anything, MiDaS) are fitted to the
 * ground truth's disparity (1/depth) by least squares, scale and shift, over the scored pixels,
 * then inverted — as the MiDaS and Depth Anything evaluations do. The aligned disparity is floored
 * at 1/(the range's max, else the deepest scored truth) so a pixel fitted at or below 0 becomes far,
 * not infinite or negative.
 */
export function alignDepth(prediction: DepthPrediction, truth: DepthTruth, options: ScoreOptions): Float32Array {
  if (prediction.width !== truth.width || prediction.height !== truth.height || prediction.values.length !== truth.depth.length) {
    throw new Error(
      `a depth prediction of ${prediction.width}×${prediction.height} cannot be compared with ground truth of ${truth.width}×${truth.height}`,
    );
  }
  if ((options.depthOutput ?? 'relative-inverse') === 'metric') return prediction.values;

  const mask = depthValidMask(truth, options);
  const x: number[] = [];
  const y: number[] = [];
  let deepest = 0;
  for (let i = 0; i < mask.length; i++) {
    const p = prediction.values[i]!;
    if (mask[i] === 0 || !Number.isFinite(p)) continue;
    x.push(p);
    y.push(1 / truth.depth[i]!);
    deepest = Math.max(deepest, truth.depth[i]!);
  }
  // The metrics' own fit (depth.metrics.ts), so the error map shows what was scored.
  const { scale, shift } = fitScaleAndShift(x, y);
  const floor = 1 / (options.depthRange?.max ?? deepest);
  const aligned = new Float32Array(prediction.values.length);
  for (let i = 0; i < aligned.length; i++) aligned[i] = 1 / Math.max(scale * prediction.values[i]! + shift, floor);
  return aligned;
}
