import sharp from 'sharp';
import type { ImagePixels } from '../types';

/** Image formats a dataset's pictures may be in. */
export const DATASET_IMAGE_FORMATS = ['jpeg', 'png', 'webp', 'tiff'] as const;

export interface ImageHeader {
  format: string;
  /** As displayed: after the EXIF orientation, as the worker reads it. */
  width: number;
  height: number;
  channels: number;
  bits: 8 | 16;
  palette: boolean;
}

/** The image's header, or throws with sharp's reason when it is not an image. */
export async function imageHeader(bytes: Buffer): Promise<ImageHeader> {
  const meta = await sharp(bytes).metadata();
  const bits = meta.depth === 'ushort' || meta.depth === 'short' || meta.bitsPerSample === 16 ? 16 : 8;
  return {
    format: meta.format,
    width: meta.autoOrient.width,
    height: meta.autoOrient.height,
    channels: meta.channels,
    bits,
    palette: !!meta.isPalette,
  };
}

/** Every pixel decoded (a truncated file fails here, not in a worker), RGB or grey, 8 bits, alpha dropped. */
export async function decodeImagePixels(bytes: Buffer): Promise<ImagePixels> {
  const meta = await sharp(bytes).metadata();
  const grey = meta.channels <= 2 && !meta.isPalette;
  const { data, info } = await sharp(bytes, { failOn: 'error' })
    .rotate()
    .removeAlpha()
    .toColourspace(grey ? 'b-w' : 'srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    channels: info.channels === 1 ? 1 : 3,
    pixels: new Uint8Array(data.buffer, data.byteOffset, data.length),
  };
}

/** A one-channel PNG's values, exactly: 8-bit as bytes, 16-bit as uint16 (sharp would otherwise convert to sRGB). */
export async function decodeGreyValues(bytes: Buffer): Promise<{ width: number; height: number; values: Uint8Array | Uint16Array }> {
  const meta = await sharp(bytes).metadata();
  const sixteen = meta.depth === 'ushort' || meta.bitsPerSample === 16;
  const image = sharp(bytes, { failOn: 'error' }).extractChannel(0);
  if (sixteen) {
    const { data, info } = await image.toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    const values = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
    return { width: info.width, height: info.height, values };
  }
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, values: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}
