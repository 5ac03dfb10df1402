import { z } from 'zod';

/**
 * The tasks workers know. A task is the pre/post-processing around a model; its options are what a
 * client may choose per job.
 *  - depth:   relative inverse depth (Depth Anything V2 contract), normalised per image by min/max.
 *  - heatmap: a per-pixel probability map in [0, 1] (e.g. a DB text detector), drawn on a fixed scale.
 */
export const taskNameSchema = z.enum(['depth', 'heatmap']);
export type TaskName = z.infer<typeof taskNameSchema>;

export const colormapNameSchema = z.enum(['turbo', 'inferno', 'magma', 'viridis', 'plasma', 'gray']);
export type ColormapName = z.infer<typeof colormapNameSchema>;

export const denseMapOutputSchema = z.enum(['grayscale', 'colormap', 'raw16']);
export type DenseMapOutput = z.infer<typeof denseMapOutputSchema>;

/** Options of every dense-map task (depth, heatmap). */
export const denseMapOptionsSchema = z
  .object({
    output: denseMapOutputSchema.default('colormap'),
    colormap: colormapNameSchema.default('turbo'),
  })
  .strict();
export type DenseMapOptions = z.infer<typeof denseMapOptionsSchema>;

export const taskOptionsSchemas = {
  depth: denseMapOptionsSchema,
  heatmap: denseMapOptionsSchema,
} as const satisfies Record<TaskName, z.ZodType>;

export type TaskOptions = DenseMapOptions;

/** Parses a client's options for a task, filling defaults. Throws a ZodError on bad input. */
export function parseTaskOptions(task: TaskName, raw: unknown): TaskOptions {
  return taskOptionsSchemas[task].parse(raw ?? {});
}

/** The summary every dense-map result carries: the range used to normalise the model's output. */
export const denseMapSummarySchema = z.object({
  task: taskNameSchema,
  output: denseMapOutputSchema,
  colormap: colormapNameSchema.optional(),
  /** Raw model output values mapped to black (min) and white (max). */
  min: z.number(),
  max: z.number(),
  /** Size the model ran at, after resizing for its input contract. */
  modelInput: z.object({ width: z.number().int(), height: z.number().int() }),
});
export type DenseMapSummary = z.infer<typeof denseMapSummarySchema>;
