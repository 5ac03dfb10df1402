import { z } from 'zod';

/**
 * The tasks workers know. A task is the pre/post-processing around a model; its options are what a
 * client may choose per job, its summary what a client sees of the result at a glance.
 *  - depth:          relative inverse depth (Depth Anything V2 contract) → PNG depth map.
 *  - segmentation:   per-pixel class scores → class-index mask, colour overlay, per-class shares
 *                    (or one sigmoid channel → foreground mask and alpha cut-out).
 *  - classification: class scores → top-k labels with probabilities.
 *  - text-detection: DB-style text probability map → text boxes and a heat map.
 */
export const taskNameSchema = z.enum(['depth', 'segmentation', 'classification', 'text-detection']);
export type TaskName = z.infer<typeof taskNameSchema>;

export const colormapNameSchema = z.enum(['turbo', 'inferno', 'magma', 'viridis', 'plasma', 'gray']);
export type ColormapName = z.infer<typeof colormapNameSchema>;

export const denseMapOutputSchema = z.enum(['grayscale', 'colormap', 'raw16']);
export type DenseMapOutput = z.infer<typeof denseMapOutputSchema>;

/** How a dense map (depth, a text heat map) is drawn. */
export const denseMapOptionsSchema = z
  .object({
    output: denseMapOutputSchema.default('colormap'),
    colormap: colormapNameSchema.default('turbo'),
  })
  .strict();
export type DenseMapOptions = z.infer<typeof denseMapOptionsSchema>;

export const depthOptionsSchema = denseMapOptionsSchema;
export type DepthOptions = DenseMapOptions;

export const segmentationOptionsSchema = z
  .object({
    /** Which artifact GET …/result returns by default; all are produced. */
    output: z.enum(['overlay', 'mask', 'shares', 'cutout']).default('overlay'),
    /** Opacity of the class colours in the overlay. */
    opacity: z.number().min(0).max(1).default(0.5),
  })
  .strict();
export type SegmentationOptions = z.infer<typeof segmentationOptionsSchema>;

export const classificationOptionsSchema = z.object({ topK: z.number().int().min(1).max(100).default(5) }).strict();
export type ClassificationOptions = z.infer<typeof classificationOptionsSchema>;

export const textDetectionOptionsSchema = z
  .object({
    output: z.enum(['boxes', 'heatmap']).default('boxes'),
    /** Probability above which a pixel is text. */
    threshold: z.number().min(0).max(1).default(0.3),
    /** Mean probability a box needs to be kept. */
    boxThreshold: z.number().min(0).max(1).default(0.6),
    colormap: colormapNameSchema.default('turbo'),
  })
  .strict();
export type TextDetectionOptions = z.infer<typeof textDetectionOptionsSchema>;

export const taskOptionsSchemas = {
  depth: depthOptionsSchema,
  segmentation: segmentationOptionsSchema,
  classification: classificationOptionsSchema,
  'text-detection': textDetectionOptionsSchema,
} as const satisfies Record<TaskName, z.ZodType>;

export type TaskOptionsMap = { [T in TaskName]: z.infer<(typeof taskOptionsSchemas)[T]> };
export type TaskOptions = TaskOptionsMap[TaskName];

/** Parses a client's options for a task, filling defaults. Throws a ZodError on bad input. */
export function parseTaskOptions<T extends TaskName>(task: T, raw: unknown): TaskOptionsMap[T] {
  return taskOptionsSchemas[task].parse(raw ?? {}) as TaskOptionsMap[T];
}

const size = z.object({ width: z.number().int(), height: z.number().int() });

/** What a client sees of a result at a glance, per task. */
export const resultSummarySchema = z.discriminatedUnion('task', [
  z.object({
    task: z.literal('depth'),
    output: denseMapOutputSchema,
    colormap: colormapNameSchema.optional(),
    /** Raw model output values mapped to black (min) and white (max). */
    min: z.number(),
    max: z.number(),
    /** Size the model ran at, after resizing for its input contract. */
    modelInput: size,
  }),
  z.object({
    task: z.literal('segmentation'),
    /** Classes covering the most pixels, largest first (all of them are in the `shares` artifact). */
    classes: z.array(z.object({ index: z.number().int(), label: z.string(), share: z.number() })),
    modelInput: size,
  }),
  z.object({
    task: z.literal('classification'),
    top: z.array(z.object({ index: z.number().int(), label: z.string(), probability: z.number() })),
    modelInput: size,
  }),
  z.object({
    task: z.literal('text-detection'),
    boxes: z.number().int(),
    modelInput: size,
  }),
]);
export type ResultSummary = z.infer<typeof resultSummarySchema>;
