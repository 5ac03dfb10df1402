import { z } from 'zod';
import { imageFormatSchema } from './job-data';
import { TASK_NAMES, type TaskName } from './tasks';

/**
 * What the prediction log keeps of each job's input image and output (issue 15), for drift to
 * profile. Computed in the worker on pixels it already holds; every number is finite (zod 4's
 * z.number() refuses NaN and ±Infinity).
 */

/** Bins per channel of the colour histogram. */
export const HISTOGRAM_BINS = 8;
/** The histogram's length: R's 8 bins, then G's, then B's. */
export const HISTOGRAM_LENGTH = 3 * HISTOGRAM_BINS;
/**
 * Pixel statistics (pixelStatsShape, the histogram included) describe the image reduced to fit
 * within this many pixels a side (area average, aspect kept, never enlarged): the model-input
 * pixels for an input, the returned image for an image-to-image output. Their cost then does not
 * grow with the image, and an image and a larger copy of it get the same numbers. Changing it
 * changes what every feature means (sharpness above all): drift references must be profiled again.
 */
export const PIXEL_STATS_MAX_SIDE = 256;
/** Luma at or below this (of 255) is clipped black. */
export const CLIPPED_BLACK_MAX = 2;
/** Luma at or above this (of 255) is clipped white. */
export const CLIPPED_WHITE_MIN = 253;

const fraction = z.number().min(0).max(1);
const nonNegative = z.number().min(0);
/** A channel's shares may miss 1 by float rounding, no more. */
const HISTOGRAM_SUM_TOLERANCE = 1e-6;

/**
 * Colour histogram, 24 numbers: bin b of channel c is at c·8 + b (c: 0 R, 1 G, 2 B); bin b holds
 * values 32·b … 32·b + 31. Each channel's 8 shares sum to 1. Of the image at ≤ 256 px a side, as
 * the statistics below.
 */
export const colourHistogramSchema = z
  .array(fraction)
  .length(HISTOGRAM_LENGTH)
  .refine(
    (bins) =>
      [0, 1, 2].every(
        (c) => Math.abs(bins.slice(c * HISTOGRAM_BINS, (c + 1) * HISTOGRAM_BINS).reduce((a, b) => a + b, 0) - 1) <= HISTOGRAM_SUM_TOLERANCE,
      ),
    { message: 'each channel’s 8 bins must sum to 1' },
  );

/**
 * Statistics of an image's pixels, shared by the input's features and an image-to-image output's:
 * all of them of the image at ≤ PIXEL_STATS_MAX_SIDE (256) px a side, not at its own size.
 */
export const pixelStatsShape = {
  /** Mean BT.601 luma, 0..255. */
  meanLuma: z.number().min(0).max(255),
  /** RMS contrast: standard deviation of luma, 0..127.5. */
  contrast: nonNegative,
  /**
   * Variance of the 3×3 Laplacian of luma over interior pixels (OpenCV's blur measure) of the image
   * at ≤ 256 px a side: detail finer than that scale is averaged away first. 0 when flat.
   */
  sharpness: nonNegative,
  /** Hasler & Süsstrunk 2003 colourfulness, on 0..255 channels; 0 for greys. */
  colourfulness: nonNegative,
  /** Mean HSV saturation, 0..1. */
  saturation: fraction,
  /** Share of pixels with luma ≤ 2 or ≥ 253. */
  clipped: fraction,
} as const;

export const inputFeaturesSchema = z
  .object({
    /** Upload size in bytes. */
    bytes: z.number().int().min(0),
    format: imageFormatSchema,
    /** Size as displayed (EXIF orientation applied). */
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    megapixels: nonNegative,
    /** EXIF orientation tag, 1 (as stored) when absent. */
    orientation: z.number().int().min(1).max(8),
    ...pixelStatsShape,
    histogram: colourHistogramSchema,
  })
  .strict();
export type InputFeatures = z.infer<typeof inputFeaturesSchema>;

/** The scalar input features drift profiles (format and orientation are categories; the histogram is profiled as it is). */
export const INPUT_FEATURE_NAMES = [
  'bytes',
  'width',
  'height',
  'megapixels',
  'meanLuma',
  'contrast',
  'sharpness',
  'colourfulness',
  'saturation',
  'clipped',
] as const satisfies readonly (keyof InputFeatures)[];
export type InputFeatureName = (typeof INPUT_FEATURE_NAMES)[number];

/**
 * Output features per task. `satisfies Record<TaskName, …>`: a new task does not compile without
 * its entry here.
 */
export const OUTPUT_FEATURE_SHAPES = {
  /** Relative inverse depth has no units: these describe the map's distribution, not distances. */
  depth: {
    min: z.number(),
    max: z.number(),
    range: nonNegative,
    mean: z.number(),
    p5: z.number(),
    p50: z.number(),
    p95: z.number(),
    /** Share of values in the top 10 % of the map's range (near, for inverse depth). */
    near: fraction,
    /** Share of values in the bottom 10 % of the map's range (far). */
    far: fraction,
  },
  segmentation: {
    /** Share of pixels per class label, for the classes present. */
    shares: z.record(z.string(), fraction),
    topLabel: z.string(),
    topShare: fraction,
    classesPresent: z.number().int().min(0),
  },
  classification: {
    topLabel: z.string(),
    topProbability: fraction,
    /** Shannon entropy of the full probability vector, in nats (ln C at most, for C classes). */
    entropy: nonNegative,
    classes: z.number().int().positive(),
  },
  'text-detection': {
    boxes: z.number().int().min(0),
    /** Mean box score; null when no box was found. */
    meanScore: fraction.nullable(),
    /** Share of the image covered by the union of the boxes. */
    textArea: fraction,
  },
  /** Statistics of the returned image's pixels, as for an input. */
  'image-to-image': {
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    scale: z.number().int().positive(),
    ...pixelStatsShape,
  },
} as const satisfies Record<TaskName, z.ZodRawShape>;

type OutputShapes = typeof OUTPUT_FEATURE_SHAPES;
// Spelled out per task, as tasks.ts does for summaries: a generic index would type as the union of all tasks.
type OutputSchemas = { [T in TaskName]: z.ZodObject<{ task: z.ZodLiteral<T> } & Extract<OutputShapes[T], z.ZodRawShape>, z.core.$strict> };
export type TaskOutputFeatures<T extends TaskName> = z.infer<OutputSchemas[T]>;

export const outputFeaturesSchema = z.discriminatedUnion(
  'task',
  TASK_NAMES.map((task) => z.object({ task: z.literal(task), ...OUTPUT_FEATURE_SHAPES[task] }).strict()) as unknown as [
    OutputSchemas[TaskName],
    ...OutputSchemas[TaskName][],
  ],
);
export type OutputFeatures = z.infer<typeof outputFeaturesSchema>;

/** The scalar output features drift profiles, per task. */
export const OUTPUT_FEATURE_NAMES = {
  depth: ['range', 'mean', 'p5', 'p50', 'p95', 'near', 'far'],
  segmentation: ['topShare', 'classesPresent'],
  classification: ['topProbability', 'entropy'],
  'text-detection': ['boxes', 'meanScore', 'textArea'],
  'image-to-image': ['meanLuma', 'contrast', 'sharpness', 'colourfulness', 'saturation', 'clipped'],
} as const satisfies { [T in TaskName]: readonly (keyof OutputShapes[T])[] };
