import {
  CLIPPED_BLACK_MAX,
  CLIPPED_WHITE_MIN,
  HISTOGRAM_BINS,
  HISTOGRAM_LENGTH,
  PIXEL_STATS_MAX_SIDE,
  type ImageFormat,
  type InputFeatures,
} from '@fathom/contracts';
import { boxDownsample, type RgbPixels } from './working-size';

export type { RgbPixels } from './working-size';

/** What the worker knows of the upload besides its pixels. */
export interface UploadMeta {
  bytes: number;
  format: ImageFormat;
  /** Size as displayed (EXIF orientation applied). */
  width: number;
  height: number;
  /** EXIF orientation tag; 1 when absent. */
  orientation?: number;
}

export interface PixelStats {
  meanLuma: number;
  contrast: number;
  sharpness: number;
  colourfulness: number;
  saturation: number;
  clipped: number;
  histogram: number[];
}

// Luma is kept as an exact integer ×1000 (BT.601's coefficients have three decimals), so sums,
// the Laplacian and the clipped test are exact and a flat image's variances are exactly 0.
const LUMA_SCALE = 1000;
const BLACK_MAX = CLIPPED_BLACK_MAX * LUMA_SCALE;
const WHITE_MIN = CLIPPED_WHITE_MIN * LUMA_SCALE;
const BIN_SHIFT = 8 - Math.log2(HISTOGRAM_BINS);
// Module-local copies: an imported binding is a getter call in compiled CommonJS, per pixel in the loop.
const G_BINS = HISTOGRAM_BINS;
const B_BINS = 2 * HISTOGRAM_BINS;
/** 1 / max for each 8-bit max: a table look-up instead of a division per pixel. */
const RECIPROCAL = Float64Array.from({ length: 256 }, (_, max) => (max > 0 ? 1 / max : 0));

/**
 * Pixel statistics of an image, in one pass over the pixels plus one over luma for the Laplacian.
 * Values depend on the resolution the pixels are at (sharpness above all): the features use
 * imageStats, which first brings every image to the contract's working size.
 */
export function pixelStats({ data, width, height }: RgbPixels): PixelStats {
  const n = width * height;
  if (n <= 0 || data.length < n * 3) throw new Error(`expected ${width}×${height} RGB pixels (${n * 3} bytes), got ${data.length} bytes`);
  const luma = new Int32Array(n);
  const histogram = new Uint32Array(HISTOGRAM_LENGTH);
  // Sums of values less the first pixel's (shifted data): variances without cancellation. yb is
  // kept doubled (R + G − 2B) so that everything in the loop is an integer.
  const lumaK = 299 * data[0]! + 587 * data[1]! + 114 * data[2]!;
  const rgK = data[0]! - data[1]!;
  const yb2K = data[0]! + data[1]! - 2 * data[2]!;
  let lumaSum = 0;
  let lumaSq = 0;
  let rgSum = 0;
  let rgSq = 0;
  let ybSum = 0;
  let ybSq = 0;
  let saturationSum = 0;
  let clipped = 0;
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    const r = data[p]!;
    const g = data[p + 1]!;
    const b = data[p + 2]!;
    // BT.601 luma (ITU-R BT.601: Y = 0.299 R + 0.587 G + 0.114 B), ×1000.
    const y = 299 * r + 587 * g + 114 * b;
    luma[i] = y;
    const dy = y - lumaK;
    lumaSum += dy;
    lumaSq += dy * dy;
    // Clipped: luma ≤ 2 (black) or ≥ 253 (white) of 255, both ends counted together.
    // Branch-free (sign bits): noisy photos would mispredict a branch here and in max/min below.
    clipped += 1 - (((BLACK_MAX - y) >>> 31) & ((y - WHITE_MIN) >>> 31));
    // Hasler & Süsstrunk 2003 opponent channels: rg = R − G, yb = ½(R + G) − B.
    const rg = r - g - rgK;
    const yb = r + g - 2 * b - yb2K;
    rgSum += rg;
    rgSq += rg * rg;
    ybSum += yb;
    ybSq += yb * yb;
    // HSV saturation (Smith 1978): (max − min) / max, 0 for black.
    const dRG = r - g;
    const maxRG = g + (dRG & ~(dRG >> 31));
    const minRG = g + (dRG & (dRG >> 31));
    const dMax = maxRG - b;
    const dMin = minRG - b;
    const max = b + (dMax & ~(dMax >> 31));
    const min = b + (dMin & (dMin >> 31));
    saturationSum += (max - min) * RECIPROCAL[max]!;
    histogram[r >> BIN_SHIFT]!++;
    histogram[G_BINS + (g >> BIN_SHIFT)]!++;
    histogram[B_BINS + (b >> BIN_SHIFT)]!++;
  }
  const lumaMean = lumaSum / n;
  const rgMean = rgSum / n;
  const ybMean = ybSum / n;
  const rgVar = Math.max(0, rgSq / n - rgMean * rgMean);
  const ybVar = Math.max(0, ybSq / n - ybMean * ybMean) / 4;
  const rgMu = rgMean + rgK;
  const ybMu = (ybMean + yb2K) / 2;
  return {
    meanLuma: (lumaMean + lumaK) / LUMA_SCALE,
    // RMS contrast (Peli 1990): the standard deviation of luma.
    contrast: Math.sqrt(Math.max(0, lumaSq / n - lumaMean * lumaMean)) / LUMA_SCALE,
    sharpness: laplacianVariance(luma, width, height) / (LUMA_SCALE * LUMA_SCALE),
    // Hasler & Süsstrunk 2003: σ_rgyb + 0.3 · μ_rgyb.
    colourfulness: Math.sqrt(rgVar + ybVar) + 0.3 * Math.sqrt(rgMu * rgMu + ybMu * ybMu),
    saturation: saturationSum / n,
    clipped: clipped / n,
    histogram: Array.from(histogram, (count) => count / n),
  };
}

/**
 * Variance of the 3×3 Laplacian [0 1 0; 1 −4 1; 0 1 0] over interior pixels only (OpenCV's
 * cv2.Laplacian(ksize=1).var() blur measure, Pech-Pacheco et al. 2000, without border padding);
 * 0 for an image without interior pixels.
 */
export function laplacianVariance(luma: Int32Array, width: number, height: number): number {
  if (width < 3 || height < 3) return 0;
  const count = (width - 2) * (height - 2);
  let sum = 0;
  let sq = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1, i = y * width + 1; x < width - 1; x++, i++) {
      const l = luma[i - width]! + luma[i + width]! + luma[i - 1]! + luma[i + 1]! - 4 * luma[i]!;
      sum += l;
      sq += l * l;
    }
  }
  const mean = sum / count;
  return Math.max(0, sq / count - mean * mean);
}

/**
 * Pixel statistics of the image at the contract's working size (within PIXEL_STATS_MAX_SIDE², by
 * boxDownsample): what the prediction log keeps, for inputs and image-to-image outputs alike. The
 * cost no longer grows with the image (one cheap pass over it, then statistics on ≤ 256² pixels),
 * and sharpness is the Laplacian's variance at that one scale, so images of different sizes compare.
 */
export function imageStats(rgb: RgbPixels): PixelStats {
  return pixelStats(boxDownsample(rgb, PIXEL_STATS_MAX_SIDE));
}

/** A job's input features: the upload's facts and its pixels' statistics (imageStats). */
export function inputFeatures(rgb: RgbPixels, meta: UploadMeta): InputFeatures {
  return {
    bytes: meta.bytes,
    format: meta.format,
    width: meta.width,
    height: meta.height,
    megapixels: (meta.width * meta.height) / 1e6,
    orientation: meta.orientation ?? 1,
    ...imageStats(rgb),
  };
}
