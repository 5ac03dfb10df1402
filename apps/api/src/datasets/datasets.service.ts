import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, FathomError, type DatasetView } from '@fathom/contracts';
import { datasetExists, DatasetStore, type ChangeActor, type DatasetRecord } from '@fathom/database';
import {
  assertValidDataset,
  BUILTIN_DATASETS,
  folderFiles,
  loadDataset,
  unpackArchive,
  type BuiltinDataset,
  type LoadedDataset,
} from '@fathom/evaluation';
import { BlobStore } from '@fathom/storage';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import type { ReceivedArchive } from './dataset-archive.reader';
import { DatasetFilesInStore, storedContentsOf, type StoredDatasetContents } from './dataset-files-in-store';

/** A dataset as GET /v1/datasets/:name shows it: the view and its samples' ids, in order. */
export type DatasetDetail = DatasetView & { sampleIds: string[] };

/** A built-in dataset as GET /v1/datasets lists it: registered on first use (an evaluation names it). */
export interface BuiltinDatasetListing {
  name: string;
  version: string;
  task: DatasetView['task'];
  description: string | null;
  licence: string | null;
  registered: boolean;
  /** Why it cannot be built on this instance (a fixture it is made from is missing), or null. */
  unavailable: string | null;
}

/** Files one archive may hold (a dataset of that many samples is better split). */
export const MAX_DATASET_FILES = 200_000;
/** Files stored into the object store at once. */
const STORE_CONCURRENCY = 8;
/** Who registers a built-in dataset. */
export const FATHOM_ACTOR: ChangeActor = { actor: 'fathom' };

/**
 * Datasets for evaluation (issue 14): an uploaded .tar/.zip is unpacked on this instance's disk,
 * loaded and checked with libs/evaluation (a bad one names the file and the field), and its files
 * stored in the object store under the dataset's own prefix (never swept); built-ins are built and
 * registered the same way the first time they are asked for. name@version is registered once.
 */
@Injectable()
export class DatasetsService {
  private readonly logger = new Logger(DatasetsService.name);
  /** Built-ins being registered by this instance: a second caller waits for the first. */
  private readonly ensuring = new Map<string, Promise<DatasetRecord>>();

  constructor(
    @Inject(DatasetStore) private readonly store: DatasetStore,
    @Inject(BlobStore) private readonly blobs: BlobStore,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  /** POST /v1/datasets: the archive (removed by the caller) unpacked, checked, stored and registered. */
  async upload(archive: ReceivedArchive, by: ChangeActor): Promise<DatasetDetail> {
    const dir = join(archive.workDir, 'unpacked');
    const { root } = await unpackArchive(createReadStream(archive.path), archive.kind, dir, {
      maxBytes: this.config.API_MAX_DATASET_BYTES,
      maxFiles: MAX_DATASET_FILES,
    }).catch((error: unknown) => {
      if (!(error instanceof FathomError) || error.code !== ErrorCode.DatasetTooLarge) throw error;
      const max = this.config.API_MAX_DATASET_BYTES;
      throw new FathomError(
        ErrorCode.DatasetTooLarge,
        `${error.message}. A dataset is at most ${max} bytes (API_MAX_DATASET_BYTES), packed or unpacked, and ${MAX_DATASET_FILES} files: split it into smaller datasets, or raise the limit.`,
        { limitBytes: max, limitFiles: MAX_DATASET_FILES },
      );
    });
    const record = await this.register(root, 'upload', by);
    return detailOf(record);
  }

  /** Registered datasets (each name's newest version first) and every built-in, registered or not. */
  async list(): Promise<{ datasets: DatasetView[]; builtins: BuiltinDatasetListing[] }> {
    const records = await this.store.list();
    const registered = new Set(records.map((r) => `${r.name}@${r.version}`));
    return {
      datasets: records.map(viewOf),
      builtins: BUILTIN_DATASETS.map((b) => ({
        name: b.name,
        version: b.version,
        task: b.task,
        description: b.description ?? null,
        licence: b.licence ?? null,
        registered: registered.has(`${b.name}@${b.version}`),
        unavailable: this.unavailable(b) ?? null,
      })),
    };
  }

  /** GET /v1/datasets/:name[/:version]: a registered dataset (the latest without a version), or 404 dataset_not_found. */
  async detail(name: string, version?: string): Promise<DatasetDetail> {
    const record = await this.store.find(name, version);
    if (!record) throw this.notFound(name, version);
    return detailOf(record);
  }

  /**
   * The dataset an evaluation names — `name` (its latest version) or `name@version` — registering
   * a built-in the first time it is asked for; 404 dataset_not_found when there is no such dataset,
   * or a built-in cannot be built here (the message says what is missing).
   */
  async ensure(reference: string): Promise<DatasetRecord> {
    const at = reference.lastIndexOf('@');
    const [name, version] = at > 0 ? [reference.slice(0, at), reference.slice(at + 1)] : [reference, undefined];
    const registered = await this.store.find(name, version);
    if (registered) return registered;
    const builtin = BUILTIN_DATASETS.find((b) => b.name === name && (version === undefined || b.version === version));
    if (!builtin) throw this.notFound(name, version);
    const key = `${builtin.name}@${builtin.version}`;
    let pending = this.ensuring.get(key);
    if (!pending) {
      pending = this.registerBuiltin(builtin).finally(() => this.ensuring.delete(key));
      this.ensuring.set(key, pending);
    }
    return pending;
  }

  /** A registered dataset's files in the object store, for reading samples and their truth. */
  filesOf(record: DatasetRecord): DatasetFilesInStore {
    return DatasetFilesInStore.of(this.blobs, record);
  }

  /** A registered dataset ready to read (an evaluation's): its record, its manifest and samples loaded, its files in the store. */
  async open(id: string): Promise<{ record: DatasetRecord; dataset: LoadedDataset; files: DatasetFilesInStore }> {
    const record = await this.store.get(id);
    const files = this.filesOf(record);
    return { record, dataset: await loadDataset(files), files };
  }

  /** The dataset by id (an evaluation's), or 404 dataset_not_found. */
  get(id: string): Promise<DatasetRecord> {
    return this.store.get(id);
  }

  /** Where built-ins find their sources: API_DATASETS_SHARED_DIR, else ../shared beside the working directory when it exists. */
  sharedDir(): string | undefined {
    if (this.config.API_DATASETS_SHARED_DIR !== undefined) return resolve(this.config.API_DATASETS_SHARED_DIR);
    const beside = resolve(process.cwd(), '..', 'shared');
    return existsSync(beside) ? beside : undefined;
  }

  private async registerBuiltin(builtin: BuiltinDataset): Promise<DatasetRecord> {
    const dir = await mkdtemp(join(tmpdir(), 'fathom-builtin-'));
    try {
      const options = { sharedDir: this.sharedDir() };
      const missing = builtin.unavailable(options);
      if (missing !== undefined) throw cannotBuild(builtin, missing, options.sharedDir);
      const built = await builtin.build(dir, options);
      if (!built.built) throw cannotBuild(builtin, built.reason, options.sharedDir);
      try {
        const record = await this.register(dir, 'builtin', FATHOM_ACTOR);
        this.logger.log({ msg: 'built-in dataset registered', dataset: `${record.name}@${record.version}`, samples: record.samples });
        return record;
      } catch (error) {
        // Another instance registered it first: theirs is the one.
        const theirs =
          error instanceof FathomError && error.code === ErrorCode.DatasetExists && (await this.store.find(builtin.name, builtin.version));
        if (theirs) return theirs;
        throw error;
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Loads and checks the dataset in `dir`, stores its files under a new id and creates its row; the files go again if the row cannot be made. */
  private async register(dir: string, source: DatasetRecord['source'], by: ChangeActor): Promise<DatasetRecord> {
    const files = folderFiles(dir);
    const dataset = await loadDataset(files);
    const { name, version } = dataset.manifest;
    // Before the files are checked and stored: a name@version taken is refused at once.
    if (await this.store.find(name, version)) throw datasetExists(name, version);
    await assertValidDataset(dataset, files);
    const id = DatasetStore.newId();
    const paths = await files.list!();
    const stored: string[] = [];
    try {
      const sizes = await this.storeFiles(id, dir, paths, stored);
      return await this.store.create(
        {
          id,
          name,
          version,
          task: dataset.manifest.task,
          description: dataset.manifest.description ?? null,
          licence: dataset.manifest.licence,
          samples: dataset.samples.length,
          bytes: [...sizes.values()].reduce((sum, s) => sum + s.bytes, 0),
          source,
          storePrefix: this.blobs.datasetPrefix(id),
          sha256: contentsDigest(sizes),
          manifest: contentsOf(dataset, sizes) as unknown as Record<string, unknown>,
        },
        by,
      );
    } catch (error) {
      await Promise.all(stored.map((key) => this.blobs.delete(key).catch(() => undefined)));
      throw error;
    }
  }

  /** Streams each file into the object store (a few at once); their lengths and SHA-256s by path. */
  private async storeFiles(id: string, dir: string, paths: readonly string[], stored: string[]) {
    const sizes = new Map<string, { bytes: number; sha256: string }>();
    let next = 0;
    const worker = async () => {
      while (next < paths.length) {
        const path = paths[next++]!;
        const key = this.blobs.datasetKey(id, path);
        stored.push(key);
        sizes.set(
          path,
          await this.blobs.putStream(key, createReadStream(join(dir, ...path.split('/'))), { maxBytes: this.config.API_MAX_DATASET_BYTES }),
        );
      }
    };
    await Promise.all(Array.from({ length: STORE_CONCURRENCY }, worker));
    return new Map([...sizes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Why each built-in cannot be built here, or undefined for those that can. */
  private unavailable(builtin: BuiltinDataset): string | undefined {
    return builtin.unavailable({ sharedDir: this.sharedDir() });
  }

  private notFound(name: string, version?: string): FathomError {
    const builtins = BUILTIN_DATASETS.map((b) => b.name).join(', ');
    return new FathomError(
      ErrorCode.DatasetNotFound,
      `No dataset ${version === undefined ? name : `${name}@${version}`} is registered. Upload one with POST /v1/datasets, name a built-in (${builtins}), or see GET /v1/datasets.`,
      { name, ...(version === undefined ? {} : { version }) },
    );
  }
}

/** SHA-256 over every file's path and SHA-256, in path order: the same files give the same digest. */
function contentsDigest(sizes: ReadonlyMap<string, { sha256: string }>): string {
  const hash = createHash('sha256');
  for (const [path, { sha256 }] of sizes) hash.update(`${path}\0${sha256}\n`);
  return hash.digest('hex');
}

/** 404 dataset_not_found for a built-in that cannot be built here, saying what is missing and where it was looked for. */
function cannotBuild(builtin: BuiltinDataset, reason: string, sharedDir: string | undefined): FathomError {
  return new FathomError(
    ErrorCode.DatasetNotFound,
    `The built-in dataset ${builtin.name}@${builtin.version} cannot be built on this API instance: ${reason}. ` +
      (sharedDir === undefined
        ? 'No shared folder was found: set API_DATASETS_SHARED_DIR to the folder holding fixtures/ (../shared beside the checkout).'
        : `Looked in ${sharedDir} (API_DATASETS_SHARED_DIR, or ../shared beside the working directory).`),
    { name: builtin.name, version: builtin.version },
  );
}

function contentsOf(dataset: LoadedDataset, sizes: ReadonlyMap<string, { bytes: number }>): StoredDatasetContents {
  return {
    manifestFile: dataset.manifestFile,
    manifest: dataset.manifest,
    sampleIds: dataset.samples.map((s) => s.id),
    files: Object.fromEntries([...sizes].map(([path, { bytes }]) => [path, bytes])),
  };
}

export function viewOf(record: DatasetRecord): DatasetView {
  return {
    id: record.id,
    name: record.name,
    version: record.version,
    task: record.task,
    description: record.description,
    licence: record.licence,
    samples: record.samples,
    bytes: record.bytes,
    source: record.source,
    createdAt: record.createdAt,
    createdBy: record.createdBy,
  };
}

function detailOf(record: DatasetRecord): DatasetDetail {
  return { ...viewOf(record), sampleIds: storedContentsOf(record).sampleIds };
}
