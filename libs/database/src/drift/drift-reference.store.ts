import type { Selectable } from 'kysely';
import { referenceProfileSchema, type DriftReferenceSource, type ReferenceProfile } from '@fathom/contracts';
import type { Database } from '../database';
import { withDatabase } from '../database-errors';
import type { ChangeActor } from '../evaluations/dataset.store';
import { recordAudit } from '../keys/audit-log.store';
import type { DriftReferencesTable } from '../schema';

/** A model version's reference profile, as stored. */
export interface DriftReferenceRecord {
  model: string;
  version: string;
  source: DriftReferenceSource;
  /** Null when the stored profile no longer reads as the contract's (`problem` says why): the version is not scored until it is rebuilt. */
  profile: ReferenceProfile | null;
  problem?: string;
  rows: number;
  createdAt: string;
  createdBy: string;
}

/** Reference profiles, one per model version (issue 15); every change is audited in the same transaction. */
export class DriftReferenceStore {
  constructor(private readonly db: Database) {}

  get(model: string, version: string): Promise<DriftReferenceRecord | undefined> {
    return withDatabase(async () => {
      const row = await this.db
        .selectFrom('drift_references')
        .selectAll()
        .where('model', '=', model)
        .where('version', '=', version)
        .executeTakeFirst();
      return row && toRecord(row);
    });
  }

  /** Every version with a reference (the drift monitor's list). */
  list(): Promise<DriftReferenceRecord[]> {
    return withDatabase(async () =>
      (await this.db.selectFrom('drift_references').selectAll().orderBy('model').orderBy('version').execute()).map(toRecord),
    );
  }

  /** Sets (or replaces) a version's reference. */
  set(
    spec: { model: string; version: string; source: DriftReferenceSource; profile: ReferenceProfile },
    by: ChangeActor,
  ): Promise<DriftReferenceRecord> {
    return withDatabase(() =>
      this.db.transaction().execute(async (trx) => {
        const values = {
          source: JSON.stringify(spec.source),
          profile: JSON.stringify(spec.profile),
          rows: spec.profile.rows,
          created_by: by.actor,
        };
        const row = await trx
          .insertInto('drift_references')
          .values({ model: spec.model, version: spec.version, ...values })
          .onConflict((oc) => oc.columns(['model', 'version']).doUpdateSet({ ...values, created_at: new Date() }))
          .returningAll()
          .executeTakeFirstOrThrow();
        await recordAudit(trx, {
          actor: by.actor,
          action: 'drift-reference.set',
          targetType: 'model',
          targetId: `${spec.model}@${spec.version}`,
          details: { source: spec.source, rows: spec.profile.rows },
          traceId: by.traceId ?? null,
          address: by.address ?? null,
        });
        return toRecord(row);
      }),
    );
  }

  /** Removes a version's reference; false when it had none. */
  delete(model: string, version: string, by: ChangeActor): Promise<boolean> {
    return withDatabase(() =>
      this.db.transaction().execute(async (trx) => {
        const row = await trx
          .deleteFrom('drift_references')
          .where('model', '=', model)
          .where('version', '=', version)
          .returning('rows')
          .executeTakeFirst();
        if (!row) return false;
        await recordAudit(trx, {
          actor: by.actor,
          action: 'drift-reference.deleted',
          targetType: 'model',
          targetId: `${model}@${version}`,
          details: {},
          traceId: by.traceId ?? null,
          address: by.address ?? null,
        });
        return true;
      }),
    );
  }
}

function toRecord(row: Selectable<DriftReferencesTable>): DriftReferenceRecord {
  return {
    model: row.model,
    version: row.version,
    source: row.source as DriftReferenceSource,
    ...profileOf(row.profile),
    rows: row.rows,
    createdAt: new Date(row.created_at).toISOString(),
    createdBy: row.created_by,
  };
}

function profileOf(stored: unknown): { profile: ReferenceProfile | null; problem?: string } {
  const parsed = referenceProfileSchema.safeParse(stored);
  if (parsed.success) return { profile: parsed.data };
  const issue = parsed.error.issues[0];
  return {
    profile: null,
    problem: `the stored profile does not match this version of Fathom (${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}): set the reference again`,
  };
}
