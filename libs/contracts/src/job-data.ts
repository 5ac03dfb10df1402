import { z } from 'zod';
import { taskNameSchema, denseMapOptionsSchema } from './tasks';

export const imageFormatSchema = z.enum(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif']);
export type ImageFormat = z.infer<typeof imageFormatSchema>;

export const modelRefSchema = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  task: taskNameSchema,
});
export type ModelRef = z.infer<typeof modelRefSchema>;

/** What the API puts on the queue. The image itself is in the blob store, never in the payload. */
export const inferenceJobDataSchema = z.object({
  jobId: z.string().min(1),
  model: modelRefSchema,
  options: denseMapOptionsSchema,
  input: z.object({
    blobKey: z.string().min(1),
    bytes: z.number().int().nonnegative(),
    format: imageFormatSchema,
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    /** The client's file name, only used to name the download. */
    filename: z.string().max(255).optional(),
  }),
  submittedAt: z.number().int(),
});
export type InferenceJobData = z.infer<typeof inferenceJobDataSchema>;

/**
 * How strictly each format is decoded, shared by the API's validation and the worker's decoder so
 * that what the API accepts, a worker can decode. JPEG is lenient: phones and browsers produce
 * files missing their EOI marker that every viewer shows; libjpeg fills a cut scan with grey.
 * Other formats fail on decoder errors (a PNG whose zlib stream is broken is refused).
 */
export const DECODE_FAIL_ON: Record<ImageFormat, 'none' | 'error'> = {
  jpeg: 'none',
  png: 'error',
  webp: 'error',
  gif: 'error',
  tiff: 'error',
  avif: 'error',
};
