import type { ColormapName } from '@fathom/contracts';
import { COLORMAP_HEX } from './colormap-data';

const luts = new Map<ColormapName, Uint8Array>();

/** 256 RGB entries (768 bytes): index i is the colour of normalised value i/255. */
export function colormapLut(name: ColormapName): Uint8Array {
  let lut = luts.get(name);
  if (!lut) {
    lut = new Uint8Array(768);
    if (name === 'gray') for (let i = 0; i < 256; i++) lut.fill(i, i * 3, i * 3 + 3);
    else lut.set(Buffer.from(COLORMAP_HEX[name], 'hex'));
    luts.set(name, lut);
  }
  return lut;
}

/** 8-bit values → interleaved RGB through the named colormap. */
export function applyColormap(gray: Uint8Array, name: ColormapName): Buffer {
  const lut = colormapLut(name);
  const rgb = Buffer.allocUnsafe(gray.length * 3);
  for (let i = 0, o = 0; i < gray.length; i++, o += 3) {
    const l = gray[i]! * 3;
    rgb[o] = lut[l]!;
    rgb[o + 1] = lut[l + 1]!;
    rgb[o + 2] = lut[l + 2]!;
  }
  return rgb;
}
