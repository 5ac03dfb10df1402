import { posix } from 'node:path';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { datasetNameSchema, taskNameSchema, type TaskName } from '@fathom/contracts';
import { DatasetError, fieldOf } from './dataset-error';

/** The manifest's file names, in the order a folder is searched for one. */
export const DATASET_MANIFEST_FILES = ['dataset.yaml', 'dataset.yml', 'dataset.json'] as const;

/** Why a path in a manifest cannot be used, or undefined: paths stay inside the dataset's folder. */
export function pathProblem(path: string): string | undefined {
  if (path.includes('\0')) return `${JSON.stringify(path)} contains a NUL character`;
  if (path.includes('\\')) return `"${path}" uses "\\": separate folders with "/"`;
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return `"${path}" is absolute: write it relative to the manifest`;
  if (path.split('/').includes('..')) return `"${path}" leaves the dataset's folder (".."): keep every file inside it`;
  return undefined;
}

const relativePath = z
  .string()
  .min(1)
  .max(1000)
  .superRefine((path, ctx) => {
    const problem = pathProblem(path);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform((path) => posix.normalize(path));

function withExtension(extensions: readonly string[], what: string) {
  return relativePath.refine((path) => extensions.some((e) => path.toLowerCase().endsWith(e)), {
    message: `${what} must be ${extensions.join(' or ')}`,
  });
}

const point = z.tuple([z.number(), z.number()]);
/** A text polygon: `{points, ignore?}` (ignore: ICDAR's "###", neither helps nor hurts) or a bare list of points. */
export const textPolygonSchema = z.union([z.object({ points: z.array(point), ignore: z.boolean().optional() }).strict(), z.array(point)]);
export type TextPolygonInput = z.infer<typeof textPolygonSchema>;
export const textPolygonsSchema = z.array(textPolygonSchema);

/** YAML reads `label: 0` as a number; a label is a name either way. */
const labelSchema = z.union([z.string().min(1), z.number()]).transform(String);

export const datasetSampleSchema = z
  .object({
    /** Default: the image's path without its extension. */
    id: z.string().min(1).max(300).optional(),
    image: relativePath,
    /** depth: 16-bit PNG (× depth.scale → metres, 0 = no truth) or .npy float32 metres (NaN = no truth). */
    depth: withExtension(['.png', '.npy'], 'a depth map').optional(),
    /** depth: non-zero where the truth is valid. */
    mask: withExtension(['.png'], 'a validity mask').optional(),
    /** segmentation: class index per pixel: a greyscale PNG (8 or 16 bits) or a palette PNG (VOC). */
    classes: withExtension(['.png'], 'a class map').optional(),
    /** classification (or from classification.csv). */
    label: labelSchema.optional(),
    /** text-detection: a JSON file of polygons, or the polygons inline. */
    polygons: z.union([withExtension(['.json'], 'a polygons file'), textPolygonsSchema]).optional(),
    /** image-to-image: the expected output image (the input's size or a whole multiple of it). */
    target: relativePath.optional(),
  })
  .strict();
export type DatasetSampleInput = z.infer<typeof datasetSampleSchema>;

type TruthField = 'depth' | 'mask' | 'classes' | 'label' | 'polygons' | 'target';
const TRUTH_FIELDS: Record<TaskName, { required: readonly TruthField[]; optional: readonly TruthField[] }> = {
  depth: { required: ['depth'], optional: ['mask'] },
  segmentation: { required: ['classes'], optional: [] },
  classification: { required: ['label'], optional: [] },
  'text-detection': { required: ['polygons'], optional: [] },
  'image-to-image': { required: ['target'], optional: [] },
};
const ALL_TRUTH_FIELDS: readonly TruthField[] = ['depth', 'mask', 'classes', 'label', 'polygons', 'target'];

export const datasetManifestSchema = z
  .object({
    name: datasetNameSchema,
    version: z
      .union([z.string(), z.number()])
      .transform(String)
      .pipe(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/, 'a version like "1" or "2024.1": letters, digits, ".", "_", "+", "-"')),
    task: taskNameSchema,
    licence: z
      .string({ error: 'say under which licence the images and their ground truth may be used (e.g. "CC0-1.0")' })
      .trim()
      .min(1, 'say under which licence the images and their ground truth may be used (e.g. "CC0-1.0")'),
    description: z.string().optional(),
    /** Where the data came from: a URL or a citation. */
    source: z.string().optional(),
    depth: z
      .object({
        /** Truth outside [min, max] metres is not scored. */
        range: z
          .object({ min: z.number().nonnegative(), max: z.number().positive() })
          .strict()
          .refine((r) => r.min < r.max, { message: 'min must be below max' })
          .optional(),
        /** Metres per unit of a 16-bit depth PNG (0.001: millimetres). */
        scale: z.number().positive().default(0.001),
      })
      .strict()
      .optional(),
    segmentation: z
      .object({
        /** Class names by index, inline or one per line in a text file. */
        labels: z.union([z.array(z.string().min(1)).min(2), z.object({ file: relativePath }).strict()]),
        /** A class index that is not scored; default 255 when there are fewer than 255 classes. null: none. */
        ignoreIndex: z.number().int().min(0).max(65535).nullable().optional(),
      })
      .strict()
      .optional(),
    classification: z
      .object({
        /** Every label, in the order reports list them; default: the samples' labels, sorted. */
        labels: z.array(labelSchema).min(2).optional(),
        /** A CSV with the header `image,label`: labels for the samples (or the samples themselves). */
        csv: withExtension(['.csv'], 'the labels file').optional(),
      })
      .strict()
      .optional(),
    samples: z.array(datasetSampleSchema).optional(),
  })
  .strict()
  .superRefine((manifest, ctx) => {
    const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    for (const task of ['depth', 'segmentation', 'classification'] as const) {
      if (manifest[task] && manifest.task !== task) issue([task], `settings for ${task} datasets; this one is ${manifest.task}`);
    }
    if (manifest.task === 'segmentation' && !manifest.segmentation) {
      issue(['segmentation'], 'a segmentation dataset names its classes: segmentation: { labels: [background, …] }');
    }
    const csv = manifest.task === 'classification' ? manifest.classification?.csv : undefined;
    if (!manifest.samples?.length && !csv) issue(['samples'], 'list at least one sample: { image: …, <ground truth> }');
    const fields = TRUTH_FIELDS[manifest.task];
    const ids = new Map<string, number>();
    for (const [index, sample] of (manifest.samples ?? []).entries()) {
      for (const field of fields.required) {
        if (sample[field] === undefined && !(field === 'label' && csv)) {
          issue(['samples', index, field], `missing: a ${manifest.task} sample needs ${field}`);
        }
      }
      for (const field of ALL_TRUTH_FIELDS) {
        if (sample[field] !== undefined && !fields.required.includes(field) && !fields.optional.includes(field)) {
          issue(
            ['samples', index, field],
            `not a ${manifest.task} field (a ${manifest.task} sample has ${[...fields.required, ...fields.optional].join(', ')})`,
          );
        }
      }
      const known = manifest.classification?.labels;
      if (manifest.task === 'classification' && known && sample.label !== undefined && !known.includes(sample.label)) {
        issue(['samples', index, 'label'], `"${sample.label}" is not one of classification.labels (${known.join(', ')})`);
      }
      const id = sampleIdOf(sample);
      const first = ids.get(id);
      if (first !== undefined) issue(['samples', index, 'id'], `"${id}" is samples[${first}]'s id too: ids are unique`);
      else ids.set(id, index);
    }
    const labels = manifest.segmentation?.labels;
    const ignore = manifest.segmentation?.ignoreIndex;
    if (Array.isArray(labels) && typeof ignore === 'number' && ignore < labels.length) {
      issue(
        ['segmentation', 'ignoreIndex'],
        `${ignore} is a class (${labels[ignore]}): the ignore index is outside 0..${labels.length - 1}`,
      );
    }
  });
export type DatasetManifest = z.output<typeof datasetManifestSchema>;

/** A sample's id: its own, or its image's path without the extension. */
export function sampleIdOf(sample: Pick<DatasetSampleInput, 'id' | 'image'>): string {
  return sample.id ?? sample.image.replace(/\.[^./]*$/, '');
}

/** The segmentation ignore index a manifest means: its own, else 255 below 255 classes, else none. */
export function ignoreIndexOf(ignoreIndex: number | null | undefined, classes: number): number | null {
  if (ignoreIndex !== undefined) return ignoreIndex;
  return classes < 255 ? 255 : null;
}

/** Every schema issue as a DatasetError naming the manifest file and the field. */
export function manifestProblems(file: string, error: z.ZodError): DatasetError[] {
  return error.issues.map((i) => new DatasetError(file, fieldOf(i.path) || undefined, i.message));
}

/** Parses `dataset.yaml` / `dataset.json` text; a bad one throws a DatasetError naming the file and each field. */
export function parseDatasetManifest(text: string, file: string): DatasetManifest {
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new DatasetError(
      file,
      undefined,
      `not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'} (${(error as Error).message.split('\n')[0]})`,
    );
  }
  const parsed = datasetManifestSchema.safeParse(raw);
  if (!parsed.success) throw DatasetError.combine(manifestProblems(file, parsed.error));
  return parsed.data;
}
