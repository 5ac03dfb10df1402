import sharp from 'sharp';
import type { DenseMapOptions } from '@fathom/contracts';
import { applyColormap } from '../../imaging/colormaps';
import type { Size } from '../../imaging/resize-plan';
import type { OutputSpec } from '@fathom/models';

const PNG_OPTIONS = { compressionLevel: 6, adaptiveFiltering: false } as const;

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
    min = Infinity;
    max = -Infinity;
    for (const v of values) {
      if (!Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (min === Infinity) min = max = 0;
  }
  const normalized = new Uint16Array(values.length);
  const span = max - min;
  if (span > 0) {
    const scale = 65535 / span;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      const n = Number.isFinite(v) ? (v - min) * scale : 0;
      normalized[i] = n <= 0 ? 0 : n >= 65535 ? 65535 : Math.round(n);
    }
  }
  return { normalized, min, max };
}

/** Back to the input image's size, keeping 16 bits (bilinear, as the reference implementations do). */
export async function resizeDenseMap(normalized: Uint16Array, from: Size, to: Size): Promise<Uint16Array> {
  if (from.width === to.width && from.height === to.height) return normalized;
  const data = await sharp(normalized, { raw: { width: from.width, height: from.height, channels: 1 } })
    .resize(to.width, to.height, { fit: 'fill', kernel: 'linear' })
    .toColourspace('grey16') // sharp converts to sRGB unless told otherwise
    .raw({ depth: 'ushort' })
    .toBuffer();
  return new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
}

/** 0..65535 map → PNG: 16-bit grey (raw16), 8-bit grey (near = bright), or RGB through a colormap. */
export async function encodeDenseMap(map: Uint16Array, size: Size, options: DenseMapOptions): Promise<{ png: Buffer; contentType: 'image/png' }> {
  const raw = { width: size.width, height: size.height, channels: 1 as const };
  if (options.output === 'raw16') {
    const png = await sharp(map, { raw }).toColourspace('grey16').png(PNG_OPTIONS).toBuffer();
    return { png, contentType: 'image/png' };
  }
  const gray = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) gray[i] = (map[i]! + 128) / 257;
  const png =
    options.output === 'grayscale'
      ? await sharp(gray, { raw }).toColourspace('b-w').png(PNG_OPTIONS).toBuffer()
      : await sharp(applyColormap(gray, options.colormap), { raw: { ...raw, channels: 3 } }).png(PNG_OPTIONS).toBuffer();
  return { png, contentType: 'image/png' };
}
