import { DatasetError } from './dataset-error';
import type { DatasetFiles } from './dataset-files';
import {
  DATASET_MANIFEST_FILES,
  ignoreIndexOf,
  parseDatasetManifest,
  pathProblem,
  sampleIdOf,
  type DatasetManifest,
} from './dataset-manifest';
import type { DatasetSample, LoadedDataset } from './dataset-types';
import { DATASET_IMAGE_FORMATS, decodeImagePixels, imageHeader } from './images';
import { readTruth, SampleReader } from './truth-readers';
import type { DepthTruth, ImagePixels, SegmentationTruth, TextDetectionTruth } from '../types';

/**
 * Reads a dataset's manifest and lists its samples (ids, image and ground-truth paths); labels
 * files and a classification CSV are read here too. Throws a DatasetError naming the file and the
 * field; the images and truth files themselves are checked by validateDataset.
 */
export async function loadDataset(files: DatasetFiles): Promise<LoadedDataset> {
  let manifestFile: string | undefined;
  for (const name of DATASET_MANIFEST_FILES) {
    if (await files.exists(name)) {
      manifestFile = name;
      break;
    }
  }
  if (!manifestFile)
    throw new DatasetError('dataset.yaml', undefined, 'missing: a dataset is a folder with dataset.yaml (or dataset.json) at its top');
  const manifest = parseDatasetManifest((await files.read(manifestFile)).toString('utf8'), manifestFile);
  const problems: DatasetError[] = [];

  let labels: readonly string[] | undefined;
  let ignoreIndex: number | null = null;
  if (manifest.task === 'segmentation' && manifest.segmentation) {
    const source = manifest.segmentation.labels;
    labels = Array.isArray(source) ? source : await readLabelsFile(files, manifestFile, source.file);
    ignoreIndex = ignoreIndexOf(manifest.segmentation.ignoreIndex, labels.length);
  }

  let inputs = manifest.samples ?? [];
  if (manifest.task === 'classification' && manifest.classification?.csv) {
    inputs = await applyLabelsCsv(files, manifestFile, manifest, problems);
  }
  const samples: DatasetSample[] = inputs.map((input, index) => ({ ...input, index, id: sampleIdOf(input) }));
  if (manifest.task === 'classification') {
    labels =
      manifest.classification?.labels ??
      [...new Set(samples.map((s) => s.label!))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  }
  if (problems.length) throw DatasetError.combine(problems);
  return { manifestFile, manifest, samples, labels, ignoreIndex };
}

async function readLabelsFile(files: DatasetFiles, manifestFile: string, path: string): Promise<string[]> {
  if (!(await files.exists(path))) throw new DatasetError(manifestFile, 'segmentation.labels.file', `"${path}" is missing`);
  const labels = (await files.read(path))
    .toString('utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (labels.length < 2)
    throw new DatasetError(path, undefined, `${labels.length} labels; a segmentation dataset has at least 2 classes, one name per line`);
  return labels;
}

/** classification.csv (`image,label`): labels for the listed samples, or the samples themselves when none are listed. */
async function applyLabelsCsv(files: DatasetFiles, manifestFile: string, manifest: DatasetManifest, problems: DatasetError[]) {
  const csvPath = manifest.classification!.csv!;
  if (!(await files.exists(csvPath))) throw new DatasetError(manifestFile, 'classification.csv', `"${csvPath}" is missing`);
  const lines = (await files.read(csvPath)).toString('utf8').split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.trim().toLowerCase());
  const imageColumn = header.indexOf('image');
  const labelColumn = header.indexOf('label');
  if (imageColumn < 0 || labelColumn < 0)
    throw new DatasetError(csvPath, 'line 1', `the header is "${lines[0] ?? ''}"; write "image,label"`);
  const known = manifest.classification?.labels;
  const byImage = new Map<string, string>();
  for (const [i, line] of lines.entries()) {
    if (i === 0 || line.trim() === '') continue;
    const cells = splitCsvLine(line);
    const image = cells[imageColumn]?.trim() ?? '';
    const label = cells[labelColumn]?.trim() ?? '';
    const field = `line ${i + 1}`;
    const problem = !image || !label ? 'needs an image and a label' : pathProblem(image);
    if (problem) problems.push(new DatasetError(csvPath, field, problem));
    else if (known && !known.includes(label))
      problems.push(new DatasetError(csvPath, field, `"${label}" is not one of classification.labels (${known.join(', ')})`));
    else if (byImage.has(image)) problems.push(new DatasetError(csvPath, field, `"${image}" is labelled on an earlier line too`));
    else byImage.set(image, label);
  }
  if (!manifest.samples?.length) return [...byImage].map(([image, label]) => ({ image, label }));
  return manifest.samples.map((sample, index) => {
    if (sample.label !== undefined) return sample;
    const label = byImage.get(sample.image);
    if (label === undefined)
      problems.push(new DatasetError(manifestFile, `samples[${index}].label`, `missing, and "${sample.image}" has no line in ${csvPath}`));
    return { ...sample, label };
  });
}

function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted && c === '"' && line[i + 1] === '"') {
      cell += '"';
      i++;
    } else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}

/** What validation learnt of one sample. */
export interface SampleCheck {
  id: string;
  width: number;
  height: number;
  /** image-to-image: the target is this many times the image on each side. */
  targetScale?: number;
}

export interface DatasetValidation {
  /** Every sample checked and no problem found. */
  ok: boolean;
  problems: DatasetError[];
  /** Checking stopped at maxProblems with samples left unchecked. */
  truncated: boolean;
  samples: SampleCheck[];
}

/**
 * Reads every sample: its image decodes (JPEG, PNG, WebP, TIFF), its ground truth exists, decodes,
 * is at the image's size (an image-to-image target at a whole multiple of it) and holds known
 * classes and sane polygons. Collects up to `maxProblems` problems, then stops.
 */
export async function validateDataset(
  dataset: LoadedDataset,
  files: DatasetFiles,
  opts: { maxProblems?: number; concurrency?: number } = {},
): Promise<DatasetValidation> {
  const maxProblems = opts.maxProblems ?? 20;
  const problems: DatasetError[] = [];
  const checks: (SampleCheck | undefined)[] = [];
  let next = 0;
  let truncated = false;
  const worker = async () => {
    while (next < dataset.samples.length) {
      if (problems.length >= maxProblems) {
        truncated = true;
        return;
      }
      const sample = dataset.samples[next++]!;
      try {
        checks[sample.index] = await checkSample(dataset, sample, files);
      } catch (error) {
        if (!(error instanceof DatasetError)) throw error;
        problems.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
  problems.sort((a, b) => sampleIndexOf(a) - sampleIndexOf(b));
  return {
    ok: problems.length === 0,
    problems: problems.slice(0, maxProblems),
    truncated: truncated || problems.length > maxProblems,
    samples: checks.filter((c) => c !== undefined),
  };
}

/** validateDataset, throwing one DatasetError that lists the problems when there are any. */
export async function assertValidDataset(
  dataset: LoadedDataset,
  files: DatasetFiles,
  opts?: { maxProblems?: number },
): Promise<SampleCheck[]> {
  const validation = await validateDataset(dataset, files, opts);
  if (!validation.ok) throw DatasetError.combine(validation.problems, validation.truncated);
  return validation.samples;
}

function sampleIndexOf(error: DatasetError): number {
  const match = /^samples\[(\d+)\]/.exec(error.field ?? '');
  return match ? Number(match[1]) : -1;
}

async function checkSample(dataset: LoadedDataset, sample: DatasetSample, files: DatasetFiles): Promise<SampleCheck> {
  const reader = new SampleReader(sample, files, dataset.manifestFile);
  const bytes = await reader.read('image', sample.image);
  let image: ImagePixels;
  try {
    const header = await imageHeader(bytes);
    if (!(DATASET_IMAGE_FORMATS as readonly string[]).includes(header.format)) {
      throw reader.problem('image', `"${sample.image}" is ${header.format}; images are ${DATASET_IMAGE_FORMATS.join(', ')}`);
    }
    image = await decodeImagePixels(bytes);
  } catch (error) {
    if (error instanceof DatasetError) throw error;
    throw reader.problem('image', `"${sample.image}" does not decode (${(error as Error).message})`);
  }
  const { width, height } = image;
  const check: SampleCheck = { id: sample.id, width, height };
  const sizeProblem = (field: string, path: string, size: { width: number; height: number }) =>
    reader.problem(
      field,
      `"${path}" is ${size.width}×${size.height}; its image "${sample.image}" is ${width}×${height}: ground truth is at the image's size`,
    );
  const task = dataset.manifest.task;
  if (task === 'depth') {
    const truth: DepthTruth = await readTruth('depth', sample, files, dataset);
    if (truth.width !== width || truth.height !== height) throw sizeProblem('depth', sample.depth!, truth);
  } else if (task === 'segmentation') {
    const truth = await readTruth('segmentation', sample, files, dataset);
    if (truth.width !== width || truth.height !== height) throw sizeProblem('classes', sample.classes!, truth);
    checkClasses(reader, truth);
  } else if (task === 'text-detection') {
    checkPolygons(reader, await readTruth('text-detection', sample, files, dataset), width, height);
  } else if (task === 'image-to-image') {
    const target = await readTruth('image-to-image', sample, files, dataset);
    const scale = target.width / width;
    if (!Number.isInteger(scale) || scale < 1 || target.height !== height * scale) {
      throw reader.problem(
        'target',
        `"${sample.target!}" is ${target.width}×${target.height}; its image "${sample.image}" is ${width}×${height}: a target is the image's size or a whole multiple of it`,
      );
    }
    check.targetScale = scale;
  } else if (task === 'classification' && !dataset.labels?.includes(sample.label ?? '')) {
    throw reader.problem('label', `"${sample.label}" is not one of the dataset's labels (${dataset.labels?.join(', ')})`);
  }
  return check;
}

function checkClasses(reader: SampleReader, truth: SegmentationTruth): void {
  for (let i = 0; i < truth.classes.length; i++) {
    const c = truth.classes[i]!;
    if (c < truth.numClasses || c === truth.ignoreIndex) continue;
    const ignore = truth.ignoreIndex === null ? 'no ignore index' : `the ignore index is ${truth.ignoreIndex}`;
    throw reader.problem(
      'classes',
      `"${reader.sample.classes!}" has class ${c} at (${i % truth.width}, ${Math.floor(i / truth.width)}); there are ${truth.numClasses} labels (0..${truth.numClasses - 1}) and ${ignore}`,
    );
  }
}

function checkPolygons(reader: SampleReader, truth: TextDetectionTruth, width: number, height: number): void {
  // Annotations a pixel or two outside the picture are common (rounded corners of a box); far outside is a wrong file.
  const slackX = Math.max(2, width * 0.02);
  const slackY = Math.max(2, height * 0.02);
  const file = typeof reader.sample.polygons === 'string' ? `"${reader.sample.polygons}": ` : '';
  for (const [p, polygon] of truth.polygons.entries()) {
    if (polygon.length < 3) throw reader.problem('polygons', `${file}polygon ${p} has ${polygon.length} points; a polygon has at least 3`);
    for (const [x, y] of polygon) {
      if (!Number.isFinite(x) || !Number.isFinite(y))
        throw reader.problem('polygons', `${file}polygon ${p} has a point that is not a number`);
      if (x < -slackX || y < -slackY || x > width + slackX || y > height + slackY) {
        throw reader.problem('polygons', `${file}polygon ${p} has the point (${x}, ${y}), outside the ${width}×${height} image`);
      }
    }
  }
}
