import sharp from 'sharp';
import { DECODE_FAIL_ON, ErrorCode, imageFormatSchema } from '@fathom/contracts';

export interface RgbImage {
  /** Interleaved 8-bit RGB, row-major. */
  data: Buffer;
  width: number;
  height: number;
}

/** The image cannot be decoded: bad input, never retried. */
export class ImageDecodeError extends Error {
  readonly code = ErrorCode.ImageUndecodable;
  constructor(message: string) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

/**
 * Any accepted upload → 8-bit sRGB, as it is displayed: EXIF orientation applied, first frame of
 * an animation, palette expanded, grey and 16-bit converted (not truncated), alpha dropped — as
 * PIL's convert('RGB') and cv2.imread do in the Depth Anything reference code.
 */
export async function decodeToRgb(input: Buffer, opts: { maxPixels: number }): Promise<RgbImage> {
  let failOn: 'none' | 'error' = 'error';
  try {
    const format = imageFormatSchema.safeParse((await sharp(input).metadata()).format?.replace('heif', 'avif'));
    if (format.success) failOn = DECODE_FAIL_ON[format.data];
    const { data, info } = await sharp(input, { failOn, limitInputPixels: opts.maxPixels, pages: 1 })
      .autoOrient()
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data, width: info.width, height: info.height };
  } catch (error) {
    const message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    throw new ImageDecodeError(`The image could not be decoded: ${message || 'unknown decoder error'}`);
  }
}
