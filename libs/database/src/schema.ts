import type { ColumnType } from 'kysely';

/**
 * The tables of Fathom's PostgreSQL database, as Kysely sees them. Each migration in
 * ./migrations that adds or changes a table changes its interface here in the same commit;
 * libs/database's migration spec checks that every table declared here exists after migrating.
 */
export interface DatabaseSchema {
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
}

/** Set by the database on insert, never written after. */
type CreatedAt = ColumnType<Date, Date | undefined, never>;

/** 0001_api_keys */
export interface ApiKeysTable {
  /** The key's public id (the `<id>` of `fth_<id>_<secret>`). */
  id: string;
  owner: string;
  name: string | null;
  scopes: string[];
  /** Hex SHA-256 of the secret; the secret itself is never stored. */
  secret_hash: string;
  requests_per_second: number | null;
  jobs_in_flight: number | null;
  created_at: CreatedAt;
  /** A key id, or `cli:<user>`. */
  created_by: string;
  last_used_at: Date | null;
  revoked_at: Date | null;
  revoked_by: string | null;
}

/** 0002_audit_log */
export interface AuditLogTable {
  /** bigserial: pg returns a bigint as a string. */
  id: ColumnType<string, never, never>;
  at: CreatedAt;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  details: ColumnType<Record<string, unknown>, string, string>;
  trace_id: string | null;
}
