import { HISTOGRAM_BINS, type ImageFormat, type InputFeatures, type TaskOutputFeatures } from '@fathom/contracts';
import type { DriftRow } from './features';

/**
 * Seeded synthetic feature rows for the specs (not exported from the library): photos' input
 * features with the correlations that matter (size, bytes and megapixels move together; darkening
 * scales luma, contrast, colourfulness and sharpness together), and the image changes drift must
 * catch applied to them as they act on pixels.
 */

/** mulberry32, a small seeded 32-bit PRNG uniform in [0, 1): libs/evaluation's, copied so drift does not depend on evaluation. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Synthetic {
  constructor(readonly random: () => number) {}

  /** Standard normal (Box–Muller). */
  normal(mean = 0, sd = 1): number {
    const u = 1 - this.random();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }

  pick<T>(choices: readonly (readonly [T, number])[]): T {
    let r = this.random() * choices.reduce((sum, [, weight]) => sum + weight, 0);
    for (const [value, weight] of choices) {
      r -= weight;
      if (r < 0) return value;
    }
    return choices[choices.length - 1]![0];
  }
}

/** How a scene or a change moves an image's statistics. */
export interface Scene {
  /** Indoor photos: darker, less colourful. */
  indoor?: boolean;
  /** Pixel values multiplied by this (0.6: underexposed). */
  exposure?: number;
  /** A box blur: the Laplacian's variance falls by about this factor, files shrink. */
  blur?: number;
  /** Added to meanLuma, in its standard deviations (a plain shift of one feature). */
  lumaShiftSd?: number;
}

/** Outdoor meanLuma's standard deviation (before clamping). */
export const LUMA_SD = 35;
const SIZES: readonly (readonly [readonly [number, number], number])[] = [
  [[4032, 3024], 3],
  [[3024, 4032], 2],
  [[1920, 1080], 2],
  [[1280, 720], 1],
  [[1024, 768], 1],
  [[640, 480], 1],
];
const FORMATS: readonly (readonly [ImageFormat, number])[] = [
  ['jpeg', 75],
  ['png', 15],
  ['webp', 8],
  ['avif', 2],
];
const ORIENTATIONS: readonly (readonly [number, number])[] = [
  [1, 85],
  [6, 10],
  [3, 4],
  [8, 1],
];

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

export function inputFeatures(s: Synthetic, scene: Scene = {}): InputFeatures {
  const exposure = scene.exposure ?? 1;
  const blur = scene.blur ?? 1;
  const [width, height] = s.pick(SIZES);
  const megapixels = (width * height) / 1e6;
  const luma = clamp(s.normal(scene.indoor ? 95 : 125, scene.indoor ? 30 : LUMA_SD) + (scene.lumaShiftSd ?? 0) * LUMA_SD, 0, 255);
  const meanLuma = luma * exposure;
  const contrast = clamp(s.normal(55, 12), 1, 127.5) * exposure;
  const sharpness = Math.exp(s.normal(Math.log(400), 0.7)) * exposure * exposure * blur;
  const colourfulness = clamp(s.normal(scene.indoor ? 28 : 45, scene.indoor ? 10 : 15), 0, 200) * exposure;
  const saturation = clamp(s.normal(scene.indoor ? 0.24 : 0.34, 0.1), 0, 1);
  // Most photos clip nothing; underexposure crushes the shadows.
  const clippedBase = s.random() < 0.6 ? 0 : -Math.log(1 - s.random()) * 0.02;
  const clipped = clamp(clippedBase + (exposure < 1 ? (1 - exposure) * 0.1 * s.random() : 0), 0, 1);
  // JPEG bytes grow with pixels and detail.
  const bytes = Math.round(megapixels * clamp(s.normal(300_000, 80_000), 50_000, 1e6) * Math.pow(blur, 0.15) * (0.8 + 0.2 * exposure));
  return {
    bytes,
    format: s.pick(FORMATS),
    width,
    height,
    megapixels,
    orientation: s.pick(ORIENTATIONS),
    meanLuma,
    contrast,
    sharpness,
    colourfulness,
    saturation,
    clipped,
    histogram: histogram(meanLuma, contrast),
  };
}

/** Each channel's 8 bins: a normal's mass around meanLuma, renormalised. */
function histogram(meanLuma: number, contrast: number): number[] {
  const width = 256 / HISTOGRAM_BINS;
  const channel = Array.from({ length: HISTOGRAM_BINS }, (_, b) =>
    Math.exp(-(((b + 0.5) * width - meanLuma) ** 2) / (2 * Math.max(contrast, 4) ** 2)),
  );
  const sum = channel.reduce((a, b) => a + b, 0);
  const shares = channel.map((v) => v / sum);
  return [...shares, ...shares, ...shares];
}

/** Text detection's output: a share of images without text, whose meanScore is null. */
export function textDetectionOutput(s: Synthetic): TaskOutputFeatures<'text-detection'> {
  const boxes = s.random() < 0.3 ? 0 : 1 + Math.floor(-Math.log(1 - s.random()) * 6);
  return {
    task: 'text-detection',
    boxes,
    meanScore: boxes === 0 ? null : clamp(s.normal(0.8, 0.08), 0, 1),
    textArea: boxes === 0 ? 0 : clamp(boxes * 0.01 * (0.5 + s.random()), 0, 1),
  };
}

export function textDetectionRows(s: Synthetic, count: number, scene: Scene = {}): DriftRow[] {
  return Array.from({ length: count }, () => ({ input: inputFeatures(s, scene), output: textDetectionOutput(s) }));
}
