import { sql, type Selectable } from 'kysely';
import type { PromotionGate } from '@fathom/contracts';
import type { Database } from '../database';
import { withDatabase } from '../database-errors';
import { recordAudit } from '../keys/audit-log.store';
import type { PromotionGatesTable } from '../schema';
import type { ChangeActor } from './dataset.store';

/** A gate set over the admin API (it wins over the manifest's `evaluation.gate`). */
export interface PromotionGateRecord extends PromotionGate {
  model: string;
  updatedAt: string;
  updatedBy: string;
}

/** Promotion gates set over the admin API, one per model; every change is audited in the same transaction. */
export class PromotionGateStore {
  constructor(private readonly db: Database) {}

  /** The model's gate, or undefined when the admin API set none. */
  get(model: string): Promise<PromotionGateRecord | undefined> {
    return withDatabase(async () => {
      const row = await this.db.selectFrom('promotion_gates').selectAll().where('model', '=', model).executeTakeFirst();
      return row && toGateRecord(row);
    });
  }

  /** Sets (or replaces) the model's gate. */
  set(model: string, gate: PromotionGate, by: ChangeActor): Promise<PromotionGateRecord> {
    return withDatabase(() =>
      this.db.transaction().execute(async (trx) => {
        const values = { dataset: gate.dataset, metric: gate.metric, margin: gate.margin, updated_by: by.actor };
        const row = await trx
          .insertInto('promotion_gates')
          .values({ model, ...values })
          .onConflict((oc) => oc.column('model').doUpdateSet({ ...values, updated_at: sql<Date>`now()` }))
          .returningAll()
          .executeTakeFirstOrThrow();
        await recordAudit(
          trx,
          auditOf(by, 'promotion-gate.set', model, { dataset: gate.dataset, metric: gate.metric, margin: gate.margin }),
        );
        return toGateRecord(row);
      }),
    );
  }

  /** Removes the model's gate; false when it had none (nothing audited then). */
  delete(model: string, by: ChangeActor): Promise<boolean> {
    return withDatabase(() =>
      this.db.transaction().execute(async (trx) => {
        const row = await trx.deleteFrom('promotion_gates').where('model', '=', model).returningAll().executeTakeFirst();
        if (!row) return false;
        await recordAudit(
          trx,
          auditOf(by, 'promotion-gate.deleted', model, { dataset: row.dataset, metric: row.metric, margin: row.margin }),
        );
        return true;
      }),
    );
  }
}

function auditOf(by: ChangeActor, action: string, model: string, details: Record<string, unknown>) {
  return {
    actor: by.actor,
    action,
    targetType: 'model',
    targetId: model,
    details,
    traceId: by.traceId ?? null,
    address: by.address ?? null,
  };
}

function toGateRecord(row: Selectable<PromotionGatesTable>): PromotionGateRecord {
  return {
    model: row.model,
    dataset: row.dataset,
    metric: row.metric,
    margin: row.margin,
    updatedAt: new Date(row.updated_at).toISOString(),
    updatedBy: row.updated_by,
  };
}
