import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../database';
import { withDatabase } from '../database-errors';
import type { DatabaseSchema } from '../schema';

/** One thing that happened, as recorded. */
export interface AuditEntry {
  /** A key id, or `cli:<user>` for the keys CLI. */
  actor: string;
  /** `key.created`, `key.revoked`, `rollout.<action>`. */
  action: string;
  targetType: string;
  targetId: string;
  details: Record<string, unknown>;
  traceId: string | null;
  /** The client address the change came from; absent for the CLI. */
  address?: string | null;
}

export interface AuditRecord extends AuditEntry {
  id: string;
  at: string;
}

/** A row of audit_log as callers read it. */
export function auditRecordOf(row: Selectable<DatabaseSchema['audit_log']>): AuditRecord {
  return {
    id: String(row.id),
    at: new Date(row.at).toISOString(),
    actor: row.actor,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    details: row.details,
    traceId: row.trace_id,
    address: row.address,
  };
}

/** Writes one entry, inside the caller's transaction when it has one. */
export async function recordAudit(db: Kysely<DatabaseSchema>, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      actor: entry.actor,
      action: entry.action,
      target_type: entry.targetType,
      target_id: entry.targetId,
      details: JSON.stringify(entry.details),
      trace_id: entry.traceId,
      address: entry.address ?? null,
    })
    .execute();
}

/** The audit log in PostgreSQL: append-only, read newest first. */
export class AuditLogStore {
  constructor(private readonly db: Database) {}

  record(entry: AuditEntry): Promise<void> {
    return withDatabase(() => recordAudit(this.db, entry));
  }

  /** Up to `limit` entries, newest first; `before`: only entries older than that id (the next page). */
  list(limit: number, before?: string): Promise<AuditRecord[]> {
    return withDatabase(async () => {
      let query = this.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(limit);
      if (before !== undefined) query = query.where('id', '<', before);
      const rows = await query.execute();
      return rows.map(auditRecordOf);
    });
  }
}
