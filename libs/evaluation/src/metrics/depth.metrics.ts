import { ErrorCode, FathomError } from '@fathom/contracts';
import type { DepthPrediction, DepthTruth, SampleScore, ScoreOptions, TaskScorer } from '../types';
import { meanOf, requireSamples, requireSameSize } from './metric-inputs';

/** Per-sample depth metrics (TASK_METRICS.depth) and the valid pixel count they were computed over. */
export interface DepthStats {
  pixels: number;
  absRel: number;
  sqRel: number;
  rmse: number;
  rmseLog: number;
  log10: number;
  silog: number;
  delta1: number;
  delta2: number;
  delta3: number;
}

const DEPTH_METRICS = ['absRel', 'sqRel', 'rmse', 'rmseLog', 'log10', 'silog', 'delta1', 'delta2', 'delta3'] as const;

/** A metric model's depth below this (metres) is raised to it: ln of 0 or of a negative prediction is undefined, and 1 mm is a 16-bit PNG's step. */
export const MIN_METRIC_DEPTH = 1e-3;

/** Relative spread of the prediction below which the alignment has no scale to fit (a constant map): it fits the shift alone. */
const DEGENERATE_SPREAD = 1e-12;

/**
 * Least-squares scale s and shift t with s·x + t ≈ y (MiDaS's compute_scale_and_shift: the 2×2
 * normal equations, written centred so large sums do not cancel). A constant prediction has no
 * scale: s = 0 and t = mean(y), the best constant.
 */
export function fitScaleAndShift(x: ArrayLike<number>, y: ArrayLike<number>): { scale: number; shift: number } {
  const n = x.length;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += x[i]!;
    sy += y[i]!;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    sxx += dx * dx;
    sxy += dx * (y[i]! - my);
  }
  if (!(sxx > DEGENERATE_SPREAD * n * (mx * mx + Number.MIN_VALUE))) return { scale: 0, shift: my };
  const scale = sxy / sxx;
  return { scale, shift: my - scale * mx };
}

/**
 * The depth metrics of one sample, as Depth Anything V2 computes them (metric_depth/util/metric.py,
 * eval_depth) over the valid pixels: truth.valid non-zero when given, a finite truth depth > 0,
 * inside options.depthRange when given, and a finite prediction.
 *
 * - SILog follows that file exactly: sqrt(mean(d²) − 0.5·mean(d)²) with d = ln p − ln g, no ×100
 *   (Eigen et al.'s λ = 0.5; KITTI's benchmark variant uses λ = 1 and ×100).
 * - `relative-inverse` (the default): the prediction is affine-invariant inverse depth, aligned per
 *   image by least squares in disparity space (s·pred + t ≈ 1/g, as the MiDaS and Depth Anything
 *   evaluations do); the aligned disparity is raised to 1/maxDepth before inverting, maxDepth being
 *   options.depthRange.max when given, else the sample's largest valid truth depth (MiDaS's
 *   depth_cap: a non-positive disparity becomes the farthest depth, not infinity).
 * - `metric`: the prediction is metres as it is, raised to MIN_METRIC_DEPTH.
 */
export function depthMetrics(prediction: DepthPrediction, truth: DepthTruth, options: ScoreOptions = {}): DepthStats {
  requireSameSize('depth', prediction, truth);
  const n = truth.width * truth.height;
  if (prediction.values.length !== n || truth.depth.length !== n || (truth.valid && truth.valid.length !== n)) {
    throw new FathomError(ErrorCode.InvalidDataset, `a depth map must hold width × height = ${n} values`, {
      prediction: prediction.values.length,
      truth: truth.depth.length,
      valid: truth.valid?.length,
    });
  }
  const range = options.depthRange;
  // Gathered into typed arrays in one pass: a Middlebury map is millions of pixels.
  const g = new Float64Array(n);
  const p = new Float64Array(n);
  let m = 0;
  let truthValid = 0;
  let maxDepth = 0;
  for (let i = 0; i < n; i++) {
    const depth = truth.depth[i]!;
    if (truth.valid && truth.valid[i] === 0) continue;
    if (!(Number.isFinite(depth) && depth > 0)) continue;
    if (range && (depth < range.min || depth > range.max)) continue;
    truthValid++;
    const value = prediction.values[i]!;
    if (!Number.isFinite(value)) continue;
    g[m] = depth;
    p[m] = value;
    m++;
    if (depth > maxDepth) maxDepth = depth;
  }
  if (truthValid === 0) {
    throw new FathomError(
      ErrorCode.InvalidDataset,
      'the sample has no valid ground-truth depth (finite, > 0, inside the range, not masked out)',
    );
  }
  if (m === 0) {
    throw new FathomError(ErrorCode.InferenceFailed, 'the prediction has no finite value where the ground truth is valid');
  }

  if ((options.depthOutput ?? 'relative-inverse') === 'relative-inverse') {
    const disparity = g.subarray(0, m).map((v) => 1 / v);
    const { scale, shift } = fitScaleAndShift(p.subarray(0, m), disparity);
    const floor = 1 / (range ? range.max : maxDepth);
    for (let k = 0; k < m; k++) p[k] = 1 / Math.max(scale * p[k]! + shift, floor);
  } else {
    for (let k = 0; k < m; k++) p[k] = Math.max(p[k]!, MIN_METRIC_DEPTH);
  }

  let absRel = 0;
  let sqRel = 0;
  let sq = 0;
  let d1 = 0;
  let d2 = 0;
  let absLog10 = 0;
  let delta1 = 0;
  let delta2 = 0;
  let delta3 = 0;
  for (let k = 0; k < m; k++) {
    const pk = p[k]!;
    const gk = g[k]!;
    const diff = pk - gk;
    const d = Math.log(pk) - Math.log(gk);
    absRel += Math.abs(diff) / gk;
    sqRel += (diff * diff) / gk;
    sq += diff * diff;
    d1 += d;
    d2 += d * d;
    absLog10 += Math.abs(Math.log10(pk) - Math.log10(gk));
    const ratio = Math.max(pk / gk, gk / pk);
    if (ratio < 1.25) delta1++;
    if (ratio < 1.25 ** 2) delta2++;
    if (ratio < 1.25 ** 3) delta3++;
  }
  const meanD = d1 / m;
  return {
    pixels: m,
    absRel: absRel / m,
    sqRel: sqRel / m,
    rmse: Math.sqrt(sq / m),
    rmseLog: Math.sqrt(d2 / m),
    log10: absLog10 / m,
    silog: Math.sqrt(Math.max(0, d2 / m - 0.5 * meanD * meanD)),
    delta1: delta1 / m,
    delta2: delta2 / m,
    delta3: delta3 / m,
  };
}

function metricsOf(stats: DepthStats): Record<string, number> {
  return Object.fromEntries(DEPTH_METRICS.map((name) => [name, stats[name]]));
}

/** The aggregate is the mean of the per-sample metrics (each image counts once), as the Depth Anything and MiDaS evaluations average. */
export const depthScorer: TaskScorer<'depth', DepthStats> = {
  score(prediction, truth, options): SampleScore<DepthStats> {
    const stats = depthMetrics(prediction, truth, options);
    return { metrics: metricsOf(stats), stats };
  },
  aggregate(stats) {
    requireSamples('depth', stats);
    return {
      metrics: Object.fromEntries(DEPTH_METRICS.map((name) => [name, meanOf(stats, (s) => s[name])])),
      details: { pixels: stats.reduce((sum, s) => sum + s.pixels, 0) },
    };
  },
  rank: (score) => -score.stats.absRel,
};
