import { Inject, Injectable } from '@nestjs/common';
import sharp, { type Metadata } from 'sharp';
import { DECODE_FAIL_ON, ErrorCode, FathomError, imageFormatFromSharp, type ImageFormat } from '@fathom/contracts';
import { API_CONFIG, type ApiConfig } from '../../config/api.config';

export interface InspectedImage {
  format: ImageFormat;
  /** As displayed, after EXIF orientation. */
  width: number;
  height: number;
  bytes: number;
}

/** What the inspector reads from the header; the length is known once the whole upload went by. */
export type InspectedHeader = Omit<InspectedImage, 'bytes'>;

/** Formats checked from their headers only: lenient decoding makes a test decode find next to nothing (below). */
const HEADER_CHECK_ONLY: ReadonlySet<ImageFormat> = new Set<ImageFormat>(['jpeg']);

/**
 * Decides whether an upload is an image a worker can decode, before anything is queued: the format
 * is sniffed from the bytes (sharp's loaders match magic numbers, never the name or Content-Type),
 * the byte and pixel limits are checked from the header, and only then is it decoded once, at a
 * small size, to refuse files whose data is broken — when the whole file is at hand, i.e. up to
 * INSPECT_WHOLE_BYTES (job-submitter.service.ts); a longer upload is streamed to the store, never
 * held whole, and its data is checked by the worker's decode.
 *
 * Formats the worker decodes leniently (JPEG: damaged or truncated scan data becomes a partial
 * image, as PIL does) are checked from their headers only — every marker up to the first scan is
 * read for the metadata. Test-decoding them found nothing the header checks missed in
 * ../shared/fixtures/bad and cost the API 36 ms for a 3024×2268 photo, 120 ms for a progressive
 * 4536×3402 one. The rare fatal error further on fails the job at the worker as image_undecodable.
 */
@Injectable()
export class ImageInspector {
  constructor(@Inject(API_CONFIG) private readonly config: ApiConfig) {}

  /**
   * `whole`: `bytes` is the whole file. Otherwise they are its head (the upload streams on to the
   * store): the header is read from them, and null says it is not all there (WebP, GIF, a TIFF
   * whose directory is at its end), so the caller must send the whole file. Only a whole file is
   * test-decoded: a longer one's data is checked by the worker's decode (image_undecodable there).
   */
  async inspect(bytes: Buffer): Promise<InspectedHeader>;
  async inspect(bytes: Buffer, whole: boolean): Promise<InspectedHeader | null>;
  async inspect(bytes: Buffer, whole = true): Promise<InspectedHeader | null> {
    if (whole && bytes.length === 0) throw new FathomError(ErrorCode.MissingField, 'The `image` file is empty.', { field: 'image' });
    if (bytes.length > this.config.API_MAX_UPLOAD_BYTES) {
      throw new FathomError(
        ErrorCode.ImageTooLarge,
        `The image is ${bytes.length} bytes; the limit is ${this.config.API_MAX_UPLOAD_BYTES}.`,
      );
    }
    const header = await this.readHeader(bytes).catch((error: unknown) => {
      if (whole) throw error;
      return null;
    });
    if (!header) return null;
    const format = this.acceptedFormat(header);
    const { width, height } = header.autoOrient ?? header;
    if (!width || !height) throw new FathomError(ErrorCode.ImageUndecodable, 'The image header has no valid size.');
    if (width * height > this.config.IMAGE_MAX_PIXELS) {
      throw new FathomError(
        ErrorCode.ImageTooManyPixels,
        `The image is ${width}×${height} (${((width * height) / 1e6).toFixed(1)} MP); the limit is ${(this.config.IMAGE_MAX_PIXELS / 1e6).toFixed(1)} MP.`,
        { width, height, maxPixels: this.config.IMAGE_MAX_PIXELS },
      );
    }
    if (whole && !HEADER_CHECK_ONLY.has(format)) await this.checkDecodes(bytes, format);
    return { format, width, height };
  }

  private async readHeader(bytes: Buffer): Promise<Metadata> {
    try {
      return await sharp(bytes, { limitInputPixels: false }).metadata();
    } catch (error) {
      const message = error instanceof Error ? error.message : '';
      if (/unsupported image format/i.test(message)) {
        throw new FathomError(
          ErrorCode.UnsupportedImageFormat,
          'The file is not an image in a supported format (JPEG, PNG, WebP, GIF, TIFF, AVIF).',
        );
      }
      throw new FathomError(ErrorCode.ImageUndecodable, `The image header is corrupt: ${firstLine(message)}`);
    }
  }

  private acceptedFormat(header: Metadata): ImageFormat {
    const format = imageFormatFromSharp(header.format);
    // HEIF containers other than AVIF (HEIC) would need a patented decoder the prebuilt sharp lacks.
    if (!format || (header.format === 'heif' && header.compression !== 'av1')) {
      throw new FathomError(
        ErrorCode.UnsupportedImageFormat,
        `${String(header.format ?? 'This').toUpperCase()} images are not accepted; send JPEG, PNG, WebP, GIF, TIFF or AVIF.`,
        { detected: header.format },
      );
    }
    return format;
  }

  private async checkDecodes(bytes: Buffer, format: ImageFormat): Promise<void> {
    try {
      await sharp(bytes, { failOn: DECODE_FAIL_ON[format], limitInputPixels: this.config.IMAGE_MAX_PIXELS, pages: 1 })
        .resize(64, 64, { fit: 'inside' })
        .raw()
        .toBuffer();
    } catch (error) {
      throw new FathomError(
        ErrorCode.ImageUndecodable,
        `The image data is corrupt: ${firstLine(error instanceof Error ? error.message : '')}`,
      );
    }
  }
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').slice(0, 200) || 'unknown decoder error';
}
