import { ErrorCode, FathomError } from '@fathom/contracts';
import type { ImagePixels, SampleScore, TaskScorer } from '../types';
import { meanOf, requireSameSize, requireSamples } from './metric-inputs';

export interface ImageToImageStats {
  psnr: number;
  ssim: number;
}

/** PSNR of identical images is infinite, which JSON cannot carry: it is capped here (100 dB is an MSE of 6.5e-6 in 8 bits). */
export const PSNR_CAP_DB = 100;

const MAX = 255;
/** Wang et al. 2004: an 11 × 11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03, L = 255. */
const SSIM_SIGMA = 1.5;
const SSIM_RADIUS = 5;
const C1 = (0.01 * MAX) ** 2;
const C2 = (0.03 * MAX) ** 2;

function requireSameShape(prediction: ImagePixels, truth: ImagePixels): void {
  requireSameSize('image-to-image', prediction, truth);
  if (prediction.channels !== truth.channels) {
    throw new FathomError(
      ErrorCode.InferenceFailed,
      `the prediction has ${prediction.channels} channels but its target has ${truth.channels}`,
    );
  }
  const n = truth.width * truth.height * truth.channels;
  if (prediction.pixels.length !== n || truth.pixels.length !== n) {
    throw new FathomError(ErrorCode.InvalidDataset, `an image must hold width × height × channels = ${n} bytes`, {
      prediction: prediction.pixels.length,
      truth: truth.pixels.length,
    });
  }
}

/** 10·log10(255² / MSE) over every channel of every pixel, capped at PSNR_CAP_DB. */
export function psnr(prediction: ImagePixels, truth: ImagePixels): number {
  requireSameShape(prediction, truth);
  let sq = 0;
  for (let i = 0; i < truth.pixels.length; i++) {
    const d = prediction.pixels[i]! - truth.pixels[i]!;
    sq += d * d;
  }
  const mse = sq / truth.pixels.length;
  return mse === 0 ? PSNR_CAP_DB : Math.min(PSNR_CAP_DB, 10 * Math.log10((MAX * MAX) / mse));
}

/** Grey as it is; RGB as its BT.601 luma Y = 0.299 R + 0.587 G + 0.114 B (full range, unrounded). */
function luma(image: ImagePixels): Float64Array {
  const n = image.width * image.height;
  const y = new Float64Array(n);
  if (image.channels === 1) {
    for (let i = 0; i < n; i++) y[i] = image.pixels[i]!;
  } else {
    for (let i = 0; i < n; i++) y[i] = 0.299 * image.pixels[3 * i]! + 0.587 * image.pixels[3 * i + 1]! + 0.114 * image.pixels[3 * i + 2]!;
  }
  return y;
}

/** One channel: grey as it is, RGB as its BT.601 luma rounded to 8 bits. */
export function greyOf(image: ImagePixels): ImagePixels {
  if (image.channels === 1) return image;
  return { width: image.width, height: image.height, channels: 1, pixels: Uint8Array.from(luma(image), (y) => Math.round(y)) };
}

const WEIGHTS = (() => {
  const w = Array.from({ length: 2 * SSIM_RADIUS + 1 }, (_, i) => Math.exp(-((i - SSIM_RADIUS) ** 2) / (2 * SSIM_SIGMA ** 2)));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / sum);
})();

/** The Gaussian-weighted mean of `image` at every pixel whose whole window lies inside it ("valid" convolution, separable). */
function gaussianValid(image: Float64Array, width: number, height: number): Float64Array {
  const w = width - 2 * SSIM_RADIUS;
  const h = height - 2 * SSIM_RADIUS;
  const rows = new Float64Array(w * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let k = 0; k < WEIGHTS.length; k++) sum += WEIGHTS[k]! * image[y * width + x + k]!;
      rows[y * w + x] = sum;
    }
  }
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let k = 0; k < WEIGHTS.length; k++) sum += WEIGHTS[k]! * rows[(y + k) * w + x]!;
      out[y * w + x] = sum;
    }
  }
  return out;
}

/**
 * Mean SSIM (Wang et al. 2004) on the luma, with scikit-image's convention:
 * structural_similarity(…, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
 * data_range=255), which averages the SSIM map without a 5-pixel border, i.e. over the pixels
 * whose 11 × 11 window lies inside the image (so the padding mode never matters).
 */
export function ssim(prediction: ImagePixels, truth: ImagePixels): number {
  requireSameShape(prediction, truth);
  const { width, height } = truth;
  if (width < 2 * SSIM_RADIUS + 1 || height < 2 * SSIM_RADIUS + 1) {
    throw new FathomError(ErrorCode.InvalidDataset, `SSIM needs an image of at least 11 × 11 pixels; this one is ${width}×${height}`);
  }
  const x = luma(prediction);
  const y = luma(truth);
  const product = (a: Float64Array, b: Float64Array): Float64Array => a.map((v, i) => v * b[i]!);
  const ux = gaussianValid(x, width, height);
  const uy = gaussianValid(y, width, height);
  const uxx = gaussianValid(product(x, x), width, height);
  const uyy = gaussianValid(product(y, y), width, height);
  const uxy = gaussianValid(product(x, y), width, height);
  let sum = 0;
  for (let i = 0; i < ux.length; i++) {
    const mx = ux[i]!;
    const my = uy[i]!;
    const vx = uxx[i]! - mx * mx;
    const vy = uyy[i]! - my * my;
    const vxy = uxy[i]! - mx * my;
    sum += ((2 * mx * my + C1) * (2 * vxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
  }
  return sum / ux.length;
}

/** The aggregate is the mean of the per-image PSNR and SSIM, as image-restoration papers report them. */
export const imageToImageScorer: TaskScorer<'image-to-image', ImageToImageStats> = {
  score(prediction, truth): SampleScore<ImageToImageStats> {
    // A grey target and a colour result (the worker writes RGB; a model that enlarges Y alone keeps
    // the input's grey) are compared on one channel: the colour one's luma.
    if (prediction.channels !== truth.channels) [prediction, truth] = [greyOf(prediction), greyOf(truth)];
    const stats = { psnr: psnr(prediction, truth), ssim: ssim(prediction, truth) };
    return { metrics: { ...stats }, stats };
  },
  aggregate(stats) {
    requireSamples('image-to-image', stats);
    return { metrics: { psnr: meanOf(stats, (s) => s.psnr), ssim: meanOf(stats, (s) => s.ssim) } };
  },
  rank: (score) => score.stats.psnr,
};
