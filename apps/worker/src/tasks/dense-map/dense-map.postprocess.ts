import sharp, { type Sharp } from 'sharp';
import type { DenseMapOptions } from '@fathom/contracts';
import { applyColormap } from '@fathom/imaging';
import { pngOptions, type PngEncoding } from '../../imaging/png-encoding';
import { sameSize, type Size } from '../../imaging/resize-plan';
import type { OutputSpec } from '@fathom/models';

/**
 * Model output → 0..65535. minmax: each image by its own range (relative depth has no units);
 * fixed: a known range such as [0,1] probabilities, clamped. Non-finite values count as the minimum.
 */
export function normalizeDenseMap(values: Float32Array, range: OutputSpec['range']): { normalized: Uint16Array; min: number; max: number } {
  let min: number;
  let max: number;
  if (range.kind === 'fixed') {
    ({ min, max } = range);
  } else {
    ({ min, max } = finiteRange(values));
  }
  const normalized = new Uint16Array(values.length);
  const span = max - min;
  if (span > 0) {
    const scale = 65535 / span;
    for (let i = 0; i < values.length; i++) {
      const n = (values[i]! - min) * scale + 0.5; // storing truncates: + 0.5 rounds
      if (n >= 65535) normalized[i] = n === Infinity ? 0 : 65535;
      else if (n > 0) normalized[i] = n;
      // else it stays 0: below the range, -Infinity and NaN (which fails every comparison)
    }
  }
  return { normalized, min, max };
}

/** The smallest and largest finite values; 0, 0 when there are none. */
function finiteRange(values: Float32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!; // NaN fails both comparisons
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min === -Infinity || max === Infinity) {
    // Rare (a broken model output): a second pass that skips the infinities.
    min = Infinity;
    max = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v === Infinity || v === -Infinity) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return min === Infinity ? { min: 0, max: 0 } : { min, max };
}

/** A one-channel map at `from` as a sharp image at `to` (bilinear, as the reference implementations enlarge). */
function mapAt(pixels: Uint16Array | Uint8Array, from: Size, to: Size): Sharp {
  const image = sharp(pixels, { raw: { width: from.width, height: from.height, channels: 1 } });
  return sameSize(from, to) ? image : image.resize(to.width, to.height, { fit: 'fill', kernel: 'linear' });
}

/** Back to the input image's size, keeping 16 bits. */
export async function resizeDenseMap(normalized: Uint16Array, from: Size, to: Size): Promise<Uint16Array> {
  if (sameSize(from, to)) return normalized;
  const data = await mapAt(normalized, from, to)
    .toColourspace('grey16') // sharp converts to sRGB unless told otherwise
    .raw({ depth: 'ushort' })
    .toBuffer();
  return new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
}

/**
 * A 0..65535 map at the model's size → a PNG at the input's size (bilinear): 16-bit grey (raw16),
 * 8-bit grey (near = bright), or RGB through a colormap. The 8-bit outputs are reduced to 8 bits
 * before they are enlarged, so the resize and the colormap work on a byte per pixel (the result
 * differs from enlarging 16 bits first by at most one grey level).
 */
export async function encodeDenseMap(
  map: Uint16Array,
  from: Size,
  to: Size,
  options: DenseMapOptions,
  png: PngEncoding,
): Promise<{ png: Buffer; contentType: 'image/png' }> {
  if (options.output === 'raw16') {
    return { png: await mapAt(map, from, to).toColourspace('grey16').png(pngOptions(png)).toBuffer(), contentType: 'image/png' };
  }
  const gray = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) gray[i] = (map[i]! + 128) / 257;
  if (options.output === 'grayscale') {
    return { png: await mapAt(gray, from, to).toColourspace('b-w').png(pngOptions(png)).toBuffer(), contentType: 'image/png' };
  }
  const enlarged = sameSize(from, to) ? gray : await mapAt(gray, from, to).toColourspace('b-w').raw().toBuffer();
  const rgb = applyColormap(enlarged, options.colormap);
  return {
    png: await sharp(rgb, { raw: { width: to.width, height: to.height, channels: 3 } })
      .png(pngOptions(png))
      .toBuffer(),
    contentType: 'image/png',
  };
}
