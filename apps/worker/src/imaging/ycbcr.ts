import type { RgbImage } from './image-decoder';

/**
 * Full-range YCbCr with BT.601 weights, as JPEG and PIL's convert('YCbCr') use it: the colour space
 * super-resolution models such as the sub-pixel CNN were trained in (they enlarge Y; Cb and Cr are
 * enlarged with bicubic resampling and merged back).
 */
const KR = 0.299;
const KB = 0.114;
const KG = 1 - KR - KB;

/** Y of every pixel, 0–255 unrounded (a grey pixel's Y is its grey level). */
export function lumaPlane(rgb: RgbImage): Float32Array {
  const { data: pixels } = rgb;
  const out = new Float32Array(rgb.width * rgb.height);
  for (let i = 0, p = 0; i < out.length; i++, p += 3) out[i] = KR * pixels[p]! + KG * pixels[p + 1]! + KB * pixels[p + 2]!;
  return out;
}

/** Cb and Cr of every pixel, rounded to 8 bits (128: no colour), interleaved with a zero third channel so sharp can resize them as one 3-channel image. */
export function chromaPixels(rgb: RgbImage): Buffer {
  const { data: pixels } = rgb;
  const out = Buffer.alloc(pixels.length);
  for (let p = 0; p < pixels.length; p += 3) {
    const r = pixels[p]!;
    const g = pixels[p + 1]!;
    const b = pixels[p + 2]!;
    const y = KR * r + KG * g + KB * b;
    out[p] = clamp8(128 + (b - y) / (2 * (1 - KB)));
    out[p + 1] = clamp8(128 + (r - y) / (2 * (1 - KR)));
  }
  return out;
}

/** Y (0–255, one per pixel) with interleaved Cb, Cr (chromaPixels' layout, same size) → 8-bit RGB. */
export function mergeYCbCr(luma: Float32Array, chroma: Uint8Array): Buffer {
  const out = Buffer.alloc(luma.length * 3);
  for (let i = 0, p = 0; i < luma.length; i++, p += 3) {
    const y = luma[i]!;
    const cb = chroma[p]! - 128;
    const cr = chroma[p + 1]! - 128;
    out[p] = clamp8(y + 2 * (1 - KR) * cr);
    out[p + 1] = clamp8(y - ((2 * KB * (1 - KB)) / KG) * cb - ((2 * KR * (1 - KR)) / KG) * cr);
    out[p + 2] = clamp8(y + 2 * (1 - KB) * cb);
  }
  return out;
}

const clamp8 = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));
