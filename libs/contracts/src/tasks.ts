import { z } from 'zod';

/**
 * The tasks workers know, declared once each in TASKS below. A task is the pre/post-processing
 * around a model; its options are what a client may choose per job, its artifacts what a job
 * returns, its summary what a client sees of the result at a glance. The task-name enum, the job
 * data and result-summary unions, the artifact enum, the OpenAPI text of the options and the
 * warm-up's output check are all derived from TASKS, so a new task is one entry here (plus its
 * reference contract in libs/models and its pipeline in the worker, both keyed by TaskName, so
 * the compiler names whatever is missing). docs/adding-a-task.md walks through one.
 */

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

/** Nothing to choose: the enlarged image is always a PNG at the model's scale. */
export const imageToImageOptionsSchema = z.object({}).strict();
export type ImageToImageOptions = z.infer<typeof imageToImageOptionsSchema>;

const size = z.object({ width: z.number().int(), height: z.number().int() });

/** What the warm-up learnt from one inference on a blank input, for a task to check against its manifest. */
export interface WarmUpRun {
  inputDims: readonly number[];
  outputDims: readonly number[];
  inputLayout: 'NCHW' | 'NHWC';
  outputLayout: 'NCHW' | 'NHWC';
  labels?: readonly string[];
}

/** Everything a task is, in one place. */
export interface TaskDeclaration {
  /** The options a client may set per job, with their defaults. */
  options: z.ZodObject;
  /** What a job returns; the first is GET …/result's default unless an option picks another. */
  artifacts: readonly [string, ...string[]];
  /** What an evaluation job (job data `evaluation`) returns besides: the raw output its metrics read (issue 14). */
  evaluationArtifacts?: readonly [string, ...string[]];
  /** The result summary's fields beside `task`. */
  summary: z.ZodRawShape;
  /**
   * Whether the worker cuts an image into tiles of the model's fixed size, run as one batch: then
   * jobs are not batched together, and a manifest may set `tiling`.
   */
  tiles: boolean;
  /**
   * Whether a model's output fits what its manifest says, from the warm-up's blank run: a message
   * that starts with the manifest field at fault, or undefined. Start-up stops on a message.
   */
  checkOutput(run: WarmUpRun): string | undefined;
}

const noCheck: TaskDeclaration['checkOutput'] = () => undefined;

/** A per-pixel or per-image class axis must have one label per class (when labels are given). */
const labelsPerClass =
  (classesOf: (run: WarmUpRun) => number | undefined) =>
  (run: WarmUpRun): string | undefined => {
    const classes = classesOf(run);
    if (run.labels && classes !== undefined && classes > 1 && run.labels.length !== classes)
      return `labels: ${run.labels.length} names for a model with ${classes} classes`;
    return undefined;
  };

/** Height and width of an image tensor in this layout. */
export function spatialDims(dims: readonly number[], layout: 'NCHW' | 'NHWC'): { height: number; width: number } | undefined {
  if (dims.length !== 4) return undefined;
  const [height, width] = layout === 'NCHW' ? [dims[2]!, dims[3]!] : [dims[1]!, dims[2]!];
  return { height, width };
}

/** The whole factor by which an image model enlarges (1: same size), or undefined when the output is not the input scaled evenly. */
export function enlargementOf(run: Pick<WarmUpRun, 'inputDims' | 'outputDims' | 'inputLayout' | 'outputLayout'>): number | undefined {
  const input = spatialDims(run.inputDims, run.inputLayout);
  const output = spatialDims(run.outputDims, run.outputLayout);
  if (!input || !output || input.width <= 0 || input.height <= 0) return undefined;
  const scale = output.width / input.width;
  return Number.isInteger(scale) && scale >= 1 && output.height === input.height * scale ? scale : undefined;
}

/**
 * One declaration per task, in the order clients see them listed. `satisfies` makes each entry
 * complete (a task without, say, its artifacts or its output check does not compile).
 */
export const TASKS = {
  /** Relative inverse depth (Depth Anything V2 contract) → PNG depth map. */
  depth: {
    options: depthOptionsSchema,
    artifacts: ['depth'],
    /** raw: the model's float32 output at the input's size (.npy), which the depth metrics read. */
    evaluationArtifacts: ['raw'],
    summary: {
      output: denseMapOutputSchema,
      colormap: colormapNameSchema.optional(),
      /** Raw model output values mapped to black (min) and white (max). */
      min: z.number(),
      max: z.number(),
      /** Size the model ran at, after resizing for its input contract. */
      modelInput: size,
    },
    tiles: false,
    checkOutput: noCheck,
  },
  /** Per-pixel class scores → class-index mask, colour overlay, per-class shares (or one sigmoid channel → foreground mask and alpha cut-out). */
  segmentation: {
    options: segmentationOptionsSchema,
    artifacts: ['overlay', 'mask', 'shares', 'cutout'],
    summary: {
      /** Classes covering the most pixels, largest first (all of them are in the `shares` artifact). */
      classes: z.array(z.object({ index: z.number().int(), label: z.string(), share: z.number() })),
      modelInput: size,
    },
    tiles: false,
    checkOutput: labelsPerClass(({ outputDims, outputLayout }) => (outputLayout === 'NHWC' ? outputDims.at(-1) : outputDims[1])),
  },
  /** Class scores → top-k labels with probabilities. */
  classification: {
    options: classificationOptionsSchema,
    artifacts: ['labels'],
    summary: {
      top: z.array(z.object({ index: z.number().int(), label: z.string(), probability: z.number() })),
      modelInput: size,
    },
    tiles: false,
    checkOutput: labelsPerClass(({ outputDims }) => outputDims.at(-1)),
  },
  /** DB-style text probability map → text boxes and a heat map. */
  'text-detection': {
    options: textDetectionOptionsSchema,
    artifacts: ['boxes', 'heatmap'],
    summary: {
      boxes: z.number().int(),
      modelInput: size,
    },
    tiles: false,
    checkOutput: noCheck,
  },
  /** An image model (super-resolution) → the enlarged image as PNG, tiled at the model's fixed size when it has one. */
  'image-to-image': {
    options: imageToImageOptionsSchema,
    artifacts: ['image'],
    summary: {
      /** Output size = input size × scale, read from the model's output. */
      scale: z.number().int().positive(),
      /** The size that was enlarged: the upload's, or smaller when it was shrunk to fit the tile cap. */
      input: size,
      /** The upload's size when it was shrunk first (more tiles than the manifest's tiling.maxTiles); absent otherwise. */
      shrunkFrom: size.optional(),
      /** The returned image's size. */
      output: size,
      /** Model runs (tiles, run as one batch); 1 when the model took the whole image. */
      tiles: z.number().int().positive(),
      /** The tile size, or the whole (possibly shrunk) image's for a model with dynamic height and width. */
      modelInput: size,
    },
    tiles: true,
    checkOutput: (run) =>
      enlargementOf(run) === undefined
        ? `output: ${JSON.stringify(run.outputDims)} is not the input ${JSON.stringify(run.inputDims)} enlarged by one whole factor on both sides`
        : undefined,
  },
} as const satisfies Record<string, TaskDeclaration>;

export type TaskName = keyof typeof TASKS;
export const TASK_NAMES = Object.keys(TASKS) as [TaskName, ...TaskName[]];
export const taskNameSchema = z.enum(TASK_NAMES);

/** A record with one entry per task, built by calling `build` for each (R names each task's own type). */
export function mapTasks<R extends { [T in TaskName]: unknown }>(build: (task: TaskName) => R[TaskName]): R {
  return Object.fromEntries(TASK_NAMES.map((task) => [task, build(task)])) as R;
}

export type TaskOptionsSchemas = { [T in TaskName]: (typeof TASKS)[T]['options'] };
export const taskOptionsSchemas: TaskOptionsSchemas = mapTasks<TaskOptionsSchemas>((task) => TASKS[task].options);

export type TaskOptionsMap = { [T in TaskName]: z.infer<TaskOptionsSchemas[T]> };
export type TaskOptions = TaskOptionsMap[TaskName];

/** Parses a client's options for a task, filling defaults. Throws a ZodError on bad input. */
export function parseTaskOptions<T extends TaskName>(task: T, raw: unknown): TaskOptionsMap[T] {
  return taskOptionsSchemas[task].parse(raw ?? {}) as TaskOptionsMap[T];
}

/** Artifact names of one task, its evaluation jobs' ones included. */
export type TaskArtifactName<T extends TaskName> = T extends TaskName
  ? | (typeof TASKS)[T]['artifacts'][number]
    | ((typeof TASKS)[T] extends { evaluationArtifacts: readonly (infer A extends string)[] } ? A : never)
  : never;
/**
 * Every artifact name, in task order (a name two tasks share is listed once), then the ones only
 * evaluation jobs return: the wire order clients saw before evaluations existed is kept.
 */
export const ARTIFACT_NAMES = [
  ...new Set([
    ...TASK_NAMES.flatMap((task) => TASKS[task].artifacts),
    ...TASK_NAMES.flatMap((task): readonly string[] => (TASKS[task] as TaskDeclaration).evaluationArtifacts ?? []),
  ]),
] as [TaskArtifactName<TaskName>, ...TaskArtifactName<TaskName>[]];

// Spelled out per task: TASKS[task] with a generic `task` would type as the union of all tasks.
type SummarySchemas = { [T in TaskName]: z.ZodObject<{ task: z.ZodLiteral<T> } & Extract<(typeof TASKS)[T]['summary'], z.ZodRawShape>> };
export type TaskSummary<T extends TaskName> = z.infer<SummarySchemas[T]>;

/** What a client sees of a result at a glance, per task. */
export const resultSummarySchema = z.discriminatedUnion(
  'task',
  TASK_NAMES.map((task) => z.object({ task: z.literal(task), ...TASKS[task].summary })) as unknown as [
    SummarySchemas[TaskName],
    ...SummarySchemas[TaskName][],
  ],
);
export type ResultSummary = z.infer<typeof resultSummarySchema>;

/** How many enum values an option's text lists before "…". */
const LISTED_VALUES = 4;

/**
 * The options of every task in a line, for the OpenAPI text of the upload form's `options` field:
 * `depth: {"output":"grayscale"|"colormap"|"raw16","colormap":"turbo"|…}; segmentation: …`. Enums
 * list their values (the default first when there are many), other fields show their default.
 */
export function describeTaskOptions(): string {
  return TASK_NAMES.map((task) => {
    const schema = z.toJSONSchema(TASKS[task].options, { io: 'input' }) as {
      properties?: Record<string, { enum?: unknown[]; default?: unknown }>;
    };
    const fields = Object.entries(schema.properties ?? {}).map(([name, field]) => {
      const values = field.enum;
      let shown: string;
      if (values && values.length > LISTED_VALUES) shown = `${JSON.stringify(field.default ?? values[0])}|…`;
      else if (values) shown = values.map((v) => JSON.stringify(v)).join('|');
      else shown = JSON.stringify(field.default);
      return `${JSON.stringify(name)}:${shown}`;
    });
    return `${task}: {${fields.join(',')}}`;
  }).join('; ');
}
