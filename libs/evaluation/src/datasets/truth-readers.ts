import type { TaskName } from '@fathom/contracts';
import { DatasetError } from './dataset-error';
import type { DatasetFiles } from './dataset-files';
import { textPolygonsSchema, type TextPolygonInput } from './dataset-manifest';
import type { DatasetSample, LoadedDataset } from './dataset-types';
import { decodeGreyValues, decodeImagePixels, imageHeader } from './images';
import { decodeNpy, npyImageSize } from './npy';
import { decodePaletteIndices } from './palette-png';
import type { DepthTruth, Polygon, SegmentationTruth, TextDetectionTruth, TruthOf } from '../types';

export type TruthContext = Pick<LoadedDataset, 'manifestFile' | 'manifest' | 'labels' | 'ignoreIndex'>;

/** A sample's ground truth as the metrics take it; a file that is missing or not what its field needs throws a DatasetError. */
export async function readTruth<T extends TaskName>(
  task: T,
  sample: DatasetSample,
  files: DatasetFiles,
  dataset: TruthContext,
): Promise<TruthOf<T>> {
  const reader = new SampleReader(sample, files, dataset.manifestFile);
  switch (task) {
    case 'depth':
      return (await readDepthTruth(reader, dataset)) as TruthOf<T>;
    case 'segmentation':
      return (await readSegmentationTruth(reader, dataset)) as TruthOf<T>;
    case 'classification': {
      const label = reader.field('label');
      return { label, labels: dataset.labels ?? [label] } as TruthOf<T>;
    }
    case 'text-detection':
      return (await readPolygons(reader)) as TruthOf<T>;
    case 'image-to-image': {
      const path = reader.field('target');
      const bytes = await reader.read('target', path);
      try {
        return (await decodeImagePixels(bytes)) as TruthOf<T>;
      } catch (error) {
        throw reader.problem('target', `"${path}" is not an image this reads (${(error as Error).message})`);
      }
    }
    default:
      throw new Error(`no ground truth reader for task ${String(task)}`);
  }
}

/** Reads one sample's files, with errors that name the manifest, the sample's field and the path. */
export class SampleReader {
  constructor(
    readonly sample: DatasetSample,
    private readonly files: DatasetFiles,
    readonly manifestFile: string,
  ) {}

  fieldName(field: string): string {
    return `samples[${this.sample.index}].${field}`;
  }

  problem(field: string, message: string): DatasetError {
    return new DatasetError(this.manifestFile, this.fieldName(field), message);
  }

  field<K extends 'image' | 'depth' | 'mask' | 'classes' | 'label' | 'target'>(key: K): string {
    const value = this.sample[key];
    if (value === undefined) throw this.problem(key, 'missing');
    return value;
  }

  async read(field: string, path: string): Promise<Buffer> {
    if (!(await this.files.exists(path))) throw this.problem(field, `"${path}" is missing`);
    return this.files.read(path);
  }
}

async function readDepthTruth(reader: SampleReader, dataset: TruthContext): Promise<DepthTruth> {
  const path = reader.field('depth');
  const bytes = await reader.read('depth', path);
  let truth: DepthTruth;
  if (path.toLowerCase().endsWith('.npy')) {
    let array;
    try {
      array = decodeNpy(bytes);
    } catch (error) {
      throw reader.problem('depth', `"${path}": ${(error as Error).message}`);
    }
    const size = npyImageSize(array.shape);
    if (!size) throw reader.problem('depth', `"${path}" has shape (${array.shape.join(', ')}); a depth map is (height, width)`);
    if (array.dtype !== 'float32' && array.dtype !== 'float64') {
      throw reader.problem('depth', `"${path}" is ${array.dtype}; depth .npy files are float32 metres (or a 16-bit PNG in millimetres)`);
    }
    truth = { ...size, depth: array.data instanceof Float32Array ? array.data : Float32Array.from(array.data) };
  } else {
    const header = await headerOf(reader, 'depth', path, bytes);
    if (header.format !== 'png' || header.bits !== 16 || header.channels !== 1) {
      const what = header.format !== 'png' ? `a ${header.format}` : header.bits !== 16 ? '8-bit' : `${header.channels}-channel`;
      throw reader.problem('depth', `"${path}" is ${what}; depth PNGs must be 16-bit greyscale millimetres (or .npy float32 metres)`);
    }
    const { width, height, values } = await decodeGreyValues(bytes);
    const scale = dataset.manifest.depth?.scale ?? 0.001;
    const depth = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) depth[i] = values[i]! * scale; // 0 stays 0: no ground truth
    truth = { width, height, depth };
  }
  if (reader.sample.mask !== undefined) {
    const maskPath = reader.sample.mask;
    const maskBytes = await reader.read('mask', maskPath);
    await headerOf(reader, 'mask', maskPath, maskBytes);
    const mask = await decodeGreyValues(maskBytes);
    if (mask.width !== truth.width || mask.height !== truth.height) {
      throw reader.problem('mask', `"${maskPath}" is ${mask.width}×${mask.height}; its depth map is ${truth.width}×${truth.height}`);
    }
    truth.valid = Uint8Array.from(mask.values, (v) => (v ? 1 : 0));
  }
  return truth;
}

async function readSegmentationTruth(reader: SampleReader, dataset: TruthContext): Promise<SegmentationTruth> {
  const path = reader.field('classes');
  const bytes = await reader.read('classes', path);
  const header = await headerOf(reader, 'classes', path, bytes);
  let map: { width: number; height: number; values: Uint8Array | Uint16Array };
  if (header.format === 'png' && header.palette) {
    try {
      const { width, height, indices } = decodePaletteIndices(bytes);
      map = { width, height, values: indices };
    } catch (error) {
      throw reader.problem('classes', `"${path}": ${(error as Error).message}`);
    }
  } else if (header.format !== 'png' || header.channels !== 1) {
    const what = header.format !== 'png' ? `a ${header.format}` : `a ${header.channels}-channel PNG`;
    throw reader.problem(
      'classes',
      `"${path}" is ${what}; class maps are PNGs whose values are class indices: greyscale (8 or 16 bits) or palette (as VOC's)`,
    );
  } else {
    map = await decodeGreyValues(bytes);
  }
  const { width, height, values } = map;
  const labels = dataset.labels ?? [];
  return { width, height, classes: values, ignoreIndex: dataset.ignoreIndex, numClasses: labels.length, labels };
}

async function readPolygons(reader: SampleReader): Promise<TextDetectionTruth> {
  const source = reader.sample.polygons;
  if (source === undefined) throw reader.problem('polygons', 'missing');
  let input: TextPolygonInput[];
  if (typeof source === 'string') {
    const bytes = await reader.read('polygons', source);
    let raw: unknown;
    try {
      raw = JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      throw reader.problem('polygons', `"${source}" is not JSON (${(error as Error).message})`);
    }
    const parsed = textPolygonsSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? ` at [${issue.path.map(String).join('][')}]` : '';
      throw reader.problem(
        'polygons',
        `"${source}"${where}: ${issue?.message ?? 'invalid'}; write [{"points": [[x, y], …], "ignore"?: true}, …] or [[[x, y], …], …]`,
      );
    }
    input = parsed.data;
  } else {
    input = source;
  }
  const polygons: Polygon[] = [];
  const ignore: boolean[] = [];
  for (const entry of input) {
    const points = Array.isArray(entry) ? entry : entry.points;
    polygons.push(points.map(([x, y]) => [x, y] as const));
    ignore.push(!Array.isArray(entry) && !!entry.ignore);
  }
  return ignore.some(Boolean) ? { polygons, ignore } : { polygons };
}

async function headerOf(reader: SampleReader, field: string, path: string, bytes: Buffer) {
  try {
    return await imageHeader(bytes);
  } catch (error) {
    throw reader.problem(field, `"${path}" is not an image this reads (${(error as Error).message})`);
  }
}
