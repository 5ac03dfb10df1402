import { imageFormatSchema, type ImageFormat } from './job-data';

/**
 * The accepted format a file is, from the name sharp's header reader gives it; undefined when it is
 * not one we accept. sharp calls AVIF by its container's name, `heif` (whether a HEIF file is AVIF
 * rather than HEIC is its compression: the API checks that).
 */
export function imageFormatFromSharp(sharpFormat: string | undefined): ImageFormat | undefined {
  const parsed = imageFormatSchema.safeParse(sharpFormat === 'heif' ? 'avif' : sharpFormat);
  return parsed.success ? parsed.data : undefined;
}
