import { z } from 'zod';
import { taskNameSchema, type TaskName } from './tasks';

/**
 * Evaluation (issue 14, ADR 0016): a dataset's samples run as ordinary jobs through the queue to
 * the workers that serve a model version, scored against their ground truth. Datasets, runs,
 * comparisons and the promotion gate are described here once; the metrics themselves are in
 * libs/evaluation, the records in PostgreSQL, the bytes (datasets, reports) in the object store.
 */

/** A dataset's or a metric's name: what `dataset.yaml` and the gate refer to. */
export const datasetNameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'lowercase letters, digits, ".", "_" and "-"');

/** Whether a larger value of a metric is better or worse. */
export type MetricDirection = 'higher' | 'lower';

export interface MetricDeclaration {
  name: string;
  /** What the report and the CLI's table call it. */
  label: string;
  better: MetricDirection;
}

/**
 * The aggregate metrics of each task, in the order reports list them. Per-class figures (IoU per
 * class, precision/recall per class, the confusion matrix) are details beside these.
 */
export const TASK_METRICS = {
  depth: [
    { name: 'absRel', label: 'AbsRel', better: 'lower' },
    { name: 'sqRel', label: 'SqRel', better: 'lower' },
    { name: 'rmse', label: 'RMSE', better: 'lower' },
    { name: 'rmseLog', label: 'RMSElog', better: 'lower' },
    { name: 'log10', label: 'log10', better: 'lower' },
    { name: 'silog', label: 'SILog', better: 'lower' },
    { name: 'delta1', label: 'δ<1.25', better: 'higher' },
    { name: 'delta2', label: 'δ<1.25²', better: 'higher' },
    { name: 'delta3', label: 'δ<1.25³', better: 'higher' },
  ],
  segmentation: [
    { name: 'mIoU', label: 'mIoU', better: 'higher' },
    { name: 'pixelAccuracy', label: 'pixel accuracy', better: 'higher' },
  ],
  classification: [
    { name: 'top1', label: 'top-1', better: 'higher' },
    { name: 'top5', label: 'top-5', better: 'higher' },
    { name: 'macroPrecision', label: 'precision (macro)', better: 'higher' },
    { name: 'macroRecall', label: 'recall (macro)', better: 'higher' },
  ],
  'text-detection': [
    { name: 'precision', label: 'precision', better: 'higher' },
    { name: 'recall', label: 'recall', better: 'higher' },
    { name: 'f1', label: 'F1', better: 'higher' },
  ],
  'image-to-image': [
    { name: 'psnr', label: 'PSNR (dB)', better: 'higher' },
    { name: 'ssim', label: 'SSIM', better: 'higher' },
  ],
} as const satisfies Record<TaskName, readonly MetricDeclaration[]>;

export type TaskMetricName<T extends TaskName> = (typeof TASK_METRICS)[T][number]['name'];
export type MetricName = TaskMetricName<TaskName>;

/** The declaration of `metric` for `task`, or undefined when that task has no such metric. */
export function metricOf(task: TaskName, metric: string): MetricDeclaration | undefined {
  return (TASK_METRICS[task] as readonly MetricDeclaration[]).find((m) => m.name === metric);
}

/**
 * How a depth model's output is compared with metric ground truth (the manifest's
 * `evaluation.depth`): `relative-inverse` (Depth Anything V2, MiDaS: affine-invariant inverse
 * depth) is aligned by least squares, scale and shift, in disparity space per image before the
 * metrics; `metric` (metres) is compared as it is.
 */
export const depthOutputKindSchema = z.enum(['relative-inverse', 'metric']);
export type DepthOutputKind = z.infer<typeof depthOutputKindSchema>;

/**
 * A promotion gate: before a canary becomes stable, it is compared with stable on `dataset`, and
 * refused when it is worse on `metric` by more than `margin` (in the metric's own units, in the
 * direction the metric declares worse).
 */
export const promotionGateSchema = z
  .object({
    dataset: datasetNameSchema,
    metric: z.string().min(1),
    margin: z.number().nonnegative().default(0),
  })
  .strict();
export type PromotionGate = z.infer<typeof promotionGateSchema>;

/** A dataset as the API lists it. */
export const datasetViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  task: taskNameSchema,
  description: z.string().nullable(),
  licence: z.string().nullable(),
  samples: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  /** `builtin`: packaged with Fathom; `upload`: a .tar/.zip sent to POST /v1/datasets. */
  source: z.enum(['builtin', 'upload']),
  createdAt: z.string(),
  createdBy: z.string(),
});
export type DatasetView = z.infer<typeof datasetViewSchema>;

export const evaluationStateSchema = z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']);
export type EvaluationState = z.infer<typeof evaluationStateSchema>;
export const FINISHED_EVALUATION_STATES: readonly EvaluationState[] = ['completed', 'failed', 'cancelled'];

/** POST /v1/evaluations */
export const createEvaluationBodySchema = z
  .object({
    /** A dataset name (its latest version) or name@version. */
    dataset: z.string().min(1),
    /** name (stable), name@version or name@alias. */
    model: z.string().min(1),
    variant: z.string().min(1).optional(),
    /** Reuse a completed evaluation of the same dataset version and model version instead of running again. */
    reuse: z.boolean().default(false),
  })
  .strict();
export type CreateEvaluationBody = z.infer<typeof createEvaluationBodySchema>;

const percentiles = z.object({ p50: z.number(), p95: z.number() });

/** Quality and speed of one run. */
export const evaluationViewSchema = z.object({
  id: z.string(),
  state: evaluationStateSchema,
  dataset: z.object({ id: z.string(), name: z.string(), version: z.string(), task: taskNameSchema, samples: z.number().int() }),
  model: z.object({
    /** What the client asked for (`depth@canary`). */
    reference: z.string(),
    name: z.string(),
    version: z.string(),
    variant: z.string().optional(),
  }),
  /** Execution providers the jobs ran on (cpu, cuda), from the workers' results. */
  executionProviders: z.array(z.string()),
  progress: z.object({ total: z.number().int(), done: z.number().int(), failed: z.number().int() }),
  /** The task's metrics over every scored sample (TASK_METRICS), once finished. */
  metrics: z.record(z.string(), z.number()).nullable(),
  /** Per-class figures and the like (segmentation IoU per class, classification's confusion matrix). */
  details: z.record(z.string(), z.unknown()).nullable(),
  /** Milliseconds per stage (queueWait, decode, …, total) over the run's jobs, and images per second. */
  latency: z.record(z.string(), percentiles).nullable(),
  throughput: z.number().nullable(),
  error: z.string().nullable(),
  createdAt: z.string(),
  createdBy: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  links: z.object({ self: z.string(), report: z.string(), samples: z.string() }),
});
export type EvaluationView = z.infer<typeof evaluationViewSchema>;

/** One line of an evaluation's samples.jsonl. */
export const sampleResultSchema = z.object({
  index: z.number().int(),
  sample: z.string(),
  jobId: z.string().nullable(),
  state: z.enum(['pending', 'queued', 'scored', 'failed']),
  /** The task's per-sample metrics (for depth, the same names as the aggregate). */
  metrics: z.record(z.string(), z.number()).nullable(),
  error: z.string().nullable(),
  timings: z.record(z.string(), z.number()).nullable(),
});
export type SampleResult = z.infer<typeof sampleResultSchema>;

/** POST /v1/evaluations/compare: `a` is the baseline (stable), `b` the candidate. */
export const compareBodySchema = z
  .object({
    dataset: z.string().min(1),
    a: z.string().min(1),
    b: z.string().min(1),
    variant: z.string().min(1).optional(),
    /** Bootstrap resamples (default 2000). */
    resamples: z.number().int().min(100).max(100_000).default(2_000),
  })
  .strict();
export type CompareBody = z.infer<typeof compareBodySchema>;

export const comparisonVerdictSchema = z.enum(['better', 'worse', 'no-difference']);
export type ComparisonVerdict = z.infer<typeof comparisonVerdictSchema>;

/** b against a on each metric: paired over the samples both scored, with a bootstrap 95 % interval of b − a. */
export const metricComparisonSchema = z.object({
  metric: z.string(),
  better: z.enum(['higher', 'lower']),
  a: z.number(),
  b: z.number(),
  /** b − a */
  delta: z.number(),
  ci95: z.tuple([z.number(), z.number()]),
  verdict: comparisonVerdictSchema,
});
export type MetricComparison = z.infer<typeof metricComparisonSchema>;

export const comparisonViewSchema = z.object({
  dataset: z.object({ name: z.string(), version: z.string(), task: taskNameSchema }),
  /** Each run, with its samples that failed (not scored): a version that fails more samples is not judged on fewer. */
  a: z.object({ evaluation: z.string(), model: z.string(), failed: z.number().int() }),
  b: z.object({ evaluation: z.string(), model: z.string(), failed: z.number().int() }),
  /** Samples scored in both runs (the pairs). */
  pairs: z.number().int(),
  resamples: z.number().int(),
  metrics: z.array(metricComparisonSchema),
});
export type ComparisonView = z.infer<typeof comparisonViewSchema>;

/** Socket.io namespace for evaluation progress; clients emit `subscribe {evaluationId}`. */
export const EVALUATIONS_NAMESPACE = '/evaluations';
export const EVALUATION_EVENTS = {
  subscribe: 'subscribe',
  /** { id, state, progress } after each sample and on every state change. */
  progress: 'evaluation.progress',
  /** The whole EvaluationView, once, when it ends (completed, failed or cancelled). */
  finished: 'evaluation.finished',
} as const;

/** BullMQ priority of evaluation jobs: user jobs (no priority, 0) always go first. Renaming is fine; changing it reorders queued jobs. */
export const EVALUATION_JOB_PRIORITY = 100;
