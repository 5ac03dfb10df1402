import { z } from 'zod';
import { denseMapSummarySchema } from './tasks';

export const executionProviderSchema = z.enum(['cpu', 'cuda', 'tensorrt', 'webgpu']);
export type ExecutionProvider = z.infer<typeof executionProviderSchema>;

/** Milliseconds per stage of one job. */
export const stageTimingsSchema = z.object({
  queueWait: z.number().nonnegative(),
  decode: z.number().nonnegative(),
  preprocess: z.number().nonnegative(),
  inference: z.number().nonnegative(),
  postprocess: z.number().nonnegative(),
  encode: z.number().nonnegative(),
  /** Accepted by the API → result stored. */
  total: z.number().nonnegative(),
});
export type StageTimings = z.infer<typeof stageTimingsSchema>;

export const artifactSchema = z.object({
  blobKey: z.string(),
  contentType: z.string(),
  bytes: z.number().int().nonnegative(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** A file name for downloads, e.g. `photo.depth.png`. */
  filename: z.string(),
});
export type Artifact = z.infer<typeof artifactSchema>;

/** What a worker returns for a completed job (BullMQ's return value). */
export const inferenceResultSchema = z.object({
  artifact: artifactSchema,
  summary: denseMapSummarySchema,
  timings: stageTimingsSchema,
  model: z.object({ name: z.string(), version: z.string() }),
  executionProvider: executionProviderSchema,
  workerId: z.string(),
});
export type InferenceResult = z.infer<typeof inferenceResultSchema>;
