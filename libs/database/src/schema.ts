import type { ColumnType } from 'kysely';

/**
 * The tables of Fathom's PostgreSQL database, as Kysely sees them. Each migration in
 * ./migrations that adds or changes a table changes its interface here in the same commit;
 * libs/database's migration spec checks that every table declared here exists after migrating.
 */
export interface DatabaseSchema {
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  deployments: DeploymentsTable;
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
  /** 0003: the client address a change came from (null for the CLI and for entries before 0003). */
  address: string | null;
}

type Json<T> = ColumnType<T, string, string>;

/** 0003_deployments (libs/contracts deployments.ts describes the states). */
export interface DeploymentsTable {
  id: string;
  name: string;
  version: string;
  task: string;
  state: string;
  reason: string | null;
  source: string;
  manifest: Json<Record<string, unknown>>;
  weights: Json<Record<string, { sha256: string; bytes: number; url?: string }>>;
  description: string | null;
  defaults: Json<Record<string, unknown> | null>;
  batching: Json<{ maxBatch: number; maxDelayMs: number } | null>;
  selector: Json<Record<string, string>>;
  replicas: number | null;
  revision: ColumnType<number, number | undefined, number>;
  created_at: CreatedAt;
  created_by: string;
  updated_at: ColumnType<Date, Date | undefined, Date>;
  retired_at: Date | null;
}
