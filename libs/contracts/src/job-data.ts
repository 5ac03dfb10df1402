import { z } from 'zod';
import { modelRouteSchema } from './rollout';
import { TASK_NAMES, TASKS, taskNameSchema, type TaskName } from './tasks';

export const imageFormatSchema = z.enum(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif']);
export type ImageFormat = z.infer<typeof imageFormatSchema>;

export const modelRefSchema = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  task: taskNameSchema,
  /** A named fine-tune of the model (its own weights), when the client asked for one. */
  variant: z.string().min(1).optional(),
  /** How the version was chosen: through an alias (stable, canary) or pinned by the client. */
  route: modelRouteSchema.optional(),
});
export type ModelRef = z.infer<typeof modelRefSchema>;

const jobBase = z.object({
  jobId: z.string().min(1),
  model: modelRefSchema,
  input: z.object({
    blobKey: z.string().min(1),
    bytes: z.number().int().nonnegative(),
    format: imageFormatSchema,
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    /** The client's file name, only used to name the downloads. */
    filename: z.string().max(255).optional(),
  }),
  submittedAt: z.number().int(),
  /**
   * The client's deadline (ms since the epoch): a worker that takes the job later drops it with
   * `deadline_exceeded` before inference. A job already running when it passes runs to the end.
   */
  deadline: z.number().int().positive().optional(),
  /**
   * The job's trace id (W3C, 32 hex digits): the real trace when tracing is on, else one made up at
   * submission so logs of the API and the worker still line up under one id.
   */
  traceId: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional(),
  /**
   * The public id of the API key that submitted the job ('local' with API_AUTH=none): logs, spans,
   * quotas (the worker gives its in-flight place back when the job ends). Never the secret; absent
   * in jobs queued before keys existed.
   */
  keyId: z.string().min(1).optional(),
  /**
   * Set on the jobs of an evaluation run (issue 14): the worker then also stores the raw model
   * output its metrics need (depth: float32 `raw`, .npy at the input's size). Absent on user jobs.
   */
  evaluation: z.object({ id: z.string().min(1), sample: z.number().int().nonnegative() }).optional(),
  /**
   * `reference`: an image profiled for a model version's drift reference (issue 15, `npm run drift
   * -- reference <folder>`): logged like any job, but never part of the production window drift compares.
   */
  purpose: z.literal('reference').optional(),
});

/**
 * What the API puts on the queue, a discriminated union on `task` so each task's options are
 * typed. The image itself is in the blob store, never in the payload.
 */
// Spelled out per task: TASKS[task] with a generic `task` would type as the union of all tasks.
type JobDataSchemas = {
  [T in TaskName]: z.ZodObject<(typeof jobBase)['shape'] & { task: z.ZodLiteral<T>; options: (typeof TASKS)[T]['options'] }>;
};

export const inferenceJobDataSchema = z.discriminatedUnion(
  'task',
  TASK_NAMES.map((task) => jobBase.extend({ task: z.literal(task), options: TASKS[task].options })) as unknown as [
    JobDataSchemas[TaskName],
    ...JobDataSchemas[TaskName][],
  ],
);
export type InferenceJobData = z.infer<typeof inferenceJobDataSchema>;

/**
 * How strictly each format is decoded, shared by the API's validation and the worker's decoder so
 * that what the API's test decode accepts, a worker can decode. JPEG is lenient: phones and
 * browsers produce files missing their EOI marker that every viewer shows; libjpeg fills a cut
 * scan with grey. Other formats fail on decoder errors (a PNG whose zlib stream is broken is
 * refused). Which formats the API test-decodes at all is its own choice (image-inspector.ts).
 */
export const DECODE_FAIL_ON: Record<ImageFormat, 'none' | 'error'> = {
  jpeg: 'none',
  png: 'error',
  webp: 'error',
  gif: 'error',
  tiff: 'error',
  avif: 'error',
};
