import type { Selectable } from 'kysely';
import { ErrorCode, FathomError, type TaskName } from '@fathom/contracts';
import type { Database } from '../database';
import { withDatabase } from '../database-errors';
import { deploymentId as uuidV7 } from '../deployments/deployment.store';
import { recordAudit } from '../keys/audit-log.store';
import type { DatasetsTable } from '../schema';

/** `builtin`: packaged with Fathom and registered on first use; `upload`: a .tar/.zip sent to the API. */
export type DatasetSource = 'builtin' | 'upload';

/** Who changed something: a key id (or `fathom` for what Fathom does itself), the trace and the client address. */
export interface ChangeActor {
  actor: string;
  traceId?: string | null;
  address?: string | null;
}

/** A row of the datasets table, as the API uses it. */
export interface DatasetRecord {
  id: string;
  name: string;
  version: string;
  task: TaskName;
  description: string | null;
  licence: string | null;
  samples: number;
  bytes: number;
  source: DatasetSource;
  /** Where its files are in the object store (BlobStore.datasetPrefix). */
  storePrefix: string;
  sha256: string;
  /** The manifest as checked: its samples and their files. */
  manifest: Record<string, unknown>;
  createdAt: string;
  createdBy: string;
}

export interface NewDataset {
  /** Given when the caller stored the files under a prefix made from it first; a new UUIDv7 otherwise. */
  id?: string;
  name: string;
  version: string;
  task: TaskName;
  description?: string | null;
  licence?: string | null;
  samples: number;
  bytes: number;
  source: DatasetSource;
  storePrefix: string;
  sha256: string;
  manifest: Record<string, unknown>;
}

/**
 * Registered datasets in PostgreSQL (issue 14). A name@version is registered once: a changed
 * dataset is a new version, so an evaluation's figures always refer to the same samples.
 */
export class DatasetStore {
  constructor(private readonly db: Database) {}

  /** A new dataset id (UUIDv7, in creation order), for a caller that stores the files before the row. */
  static newId(): string {
    return uuidV7();
  }

  /** Registers a dataset (audited); an existing name@version is 409 dataset_exists. */
  create(spec: NewDataset, by: ChangeActor): Promise<DatasetRecord> {
    return withDatabase(async () => {
      try {
        return await this.db.transaction().execute(async (trx) => {
          const row = await trx
            .insertInto('datasets')
            .values({
              id: spec.id ?? uuidV7(),
              name: spec.name,
              version: spec.version,
              task: spec.task,
              description: spec.description ?? null,
              licence: spec.licence ?? null,
              samples: spec.samples,
              bytes: spec.bytes,
              source: spec.source,
              store_prefix: spec.storePrefix,
              sha256: spec.sha256,
              manifest: JSON.stringify(spec.manifest),
              created_by: by.actor,
            })
            .returningAll()
            .executeTakeFirstOrThrow();
          const record = toDatasetRecord(row);
          await recordAudit(trx, {
            actor: by.actor,
            action: 'dataset.registered',
            targetType: 'dataset',
            targetId: `${record.name}@${record.version}`,
            details: { datasetId: record.id, task: record.task, samples: record.samples, bytes: record.bytes, source: record.source },
            traceId: by.traceId ?? null,
            address: by.address ?? null,
          });
          return record;
        });
      } catch (error) {
        if ((error as { code?: unknown }).code === '23505') throw datasetExists(spec.name, spec.version);
        throw error;
      }
    });
  }

  /** The dataset by id, or 404 dataset_not_found. */
  async get(id: string): Promise<DatasetRecord> {
    const row = await withDatabase(() => this.db.selectFrom('datasets').selectAll().where('id', '=', id).executeTakeFirst());
    if (!row) throw new FathomError(ErrorCode.DatasetNotFound, `No dataset has id ${id}. See GET /v1/datasets.`);
    return toDatasetRecord(row);
  }

  /** name@version, or without a version the latest registered of that name; undefined when there is none. */
  find(name: string, version?: string): Promise<DatasetRecord | undefined> {
    return withDatabase(async () => {
      let query = this.db.selectFrom('datasets').selectAll().where('name', '=', name);
      if (version !== undefined) query = query.where('version', '=', version);
      const row = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
      return row && toDatasetRecord(row);
    });
  }

  /** Every registered dataset: by name, each name's newest version first. */
  list(): Promise<DatasetRecord[]> {
    return withDatabase(async () => {
      const rows = await this.db
        .selectFrom('datasets')
        .selectAll()
        .orderBy('name')
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .execute();
      return rows.map(toDatasetRecord);
    });
  }
}

/** 409 dataset_exists for name@version, saying to bump the version. */
export function datasetExists(name: string, version: string): FathomError {
  return new FathomError(
    ErrorCode.DatasetExists,
    `Dataset ${name}@${version} is registered already. A changed dataset needs a new version: bump "version" in its dataset.yaml and upload it again.`,
    { name, version },
  );
}

const iso = (at: Date | string): string => new Date(at).toISOString();

function toDatasetRecord(row: Selectable<DatasetsTable>): DatasetRecord {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    task: row.task as TaskName,
    description: row.description,
    licence: row.licence,
    samples: row.samples,
    bytes: Number(row.bytes),
    source: row.source as DatasetSource,
    storePrefix: row.store_prefix,
    sha256: row.sha256,
    manifest: row.manifest,
    createdAt: iso(row.created_at),
    createdBy: row.created_by,
  };
}
