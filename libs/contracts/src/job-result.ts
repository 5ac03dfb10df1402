import { z } from 'zod';
import { ARTIFACT_NAMES, resultSummarySchema } from './tasks';

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

/** Artifact names, from every task's declaration (TASKS): depth → depth; segmentation → overlay, mask, shares, cutout; … */
export const artifactNameSchema = z.enum(ARTIFACT_NAMES);
export type ArtifactName = z.infer<typeof artifactNameSchema>;

export const artifactSchema = z.object({
  name: artifactNameSchema,
  blobKey: z.string(),
  contentType: z.string(),
  bytes: z.number().int().nonnegative(),
  /** Pixel size, for image artifacts. */
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  /** A file name for downloads, e.g. `photo.depth.png`. */
  filename: z.string(),
});
export type Artifact = z.infer<typeof artifactSchema>;

/** What a worker returns for a completed job (BullMQ's return value). */
export const inferenceResultSchema = z.object({
  /** The artifact GET …/result returns when none is named (the one the client's options chose). */
  primary: artifactNameSchema,
  artifacts: z.array(artifactSchema).min(1),
  summary: resultSummarySchema,
  timings: stageTimingsSchema,
  model: z.object({ name: z.string(), version: z.string(), variant: z.string().optional() }),
  executionProvider: executionProviderSchema,
  workerId: z.string(),
});
export type InferenceResult = z.infer<typeof inferenceResultSchema>;
