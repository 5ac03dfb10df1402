import type { DatasetRecord } from '@fathom/database';
import { DatasetError, type DatasetFiles } from '@fathom/evaluation';
import type { BlobStore } from '@fathom/storage';

/**
 * What a registered dataset's row keeps beside its figures (the `manifest` column): the manifest
 * as checked, its file's name, the samples' ids in order and every stored file with its length.
 */
export interface StoredDatasetContents {
  manifestFile: string;
  manifest: Record<string, unknown>;
  sampleIds: string[];
  files: Record<string, number>;
}

/** The contents a dataset row keeps (see StoredDatasetContents). */
export function storedContentsOf(record: DatasetRecord): StoredDatasetContents {
  const stored = record.manifest as Partial<StoredDatasetContents>;
  return {
    manifestFile: stored.manifestFile ?? 'dataset.yaml',
    manifest: stored.manifest ?? {},
    sampleIds: stored.sampleIds ?? [],
    files: stored.files ?? {},
  };
}

/**
 * A registered dataset's files in the object store, as libs/evaluation reads a dataset
 * (loadDataset, readTruth): what the evaluation runner reads a sample's image and truth through.
 * Which files exist is known from the row, so `exists` costs no request to the store.
 */
export class DatasetFilesInStore implements DatasetFiles {
  private readonly paths: ReadonlySet<string>;

  constructor(
    private readonly blobs: BlobStore,
    readonly dataset: Pick<DatasetRecord, 'id' | 'name' | 'version'>,
    files: Iterable<string>,
  ) {
    this.paths = new Set(files);
  }

  /** Over a registered dataset's row. */
  static of(blobs: BlobStore, record: DatasetRecord): DatasetFilesInStore {
    return new DatasetFilesInStore(blobs, record, Object.keys(storedContentsOf(record).files));
  }

  async read(path: string): Promise<Buffer> {
    const bytes = this.paths.has(path) ? await this.blobs.get(this.blobs.datasetKey(this.dataset.id, path)) : null;
    if (bytes === null)
      throw new DatasetError(
        path,
        undefined,
        `not in the object store for dataset ${this.dataset.name}@${this.dataset.version} (${this.blobs.datasetKey(this.dataset.id, path)})`,
      );
    return bytes;
  }

  async exists(path: string): Promise<boolean> {
    return this.paths.has(path);
  }

  async list(): Promise<string[]> {
    return [...this.paths].sort();
  }
}
