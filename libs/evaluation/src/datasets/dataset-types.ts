import type { DatasetManifest, TextPolygonInput } from './dataset-manifest';

/** One sample of a loaded dataset: where its image and its ground truth are (paths relative to the manifest). */
export interface DatasetSample {
  /** Position in the manifest (or the CSV), from 0. */
  index: number;
  id: string;
  image: string;
  depth?: string;
  mask?: string;
  classes?: string;
  label?: string;
  /** A JSON file's path, or the polygons written in the manifest. */
  polygons?: string | TextPolygonInput[];
  target?: string;
}

export interface LoadedDataset {
  /** `dataset.yaml` or `dataset.json`: what error messages name. */
  manifestFile: string;
  manifest: DatasetManifest;
  samples: DatasetSample[];
  /** Segmentation: class names by index; classification: every label. Undefined for other tasks. */
  labels?: readonly string[];
  /** Segmentation: the index that is not scored, or null. */
  ignoreIndex: number | null;
}
