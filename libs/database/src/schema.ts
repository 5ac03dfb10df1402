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
  datasets: DatasetsTable;
  evaluations: EvaluationsTable;
  evaluation_samples: EvaluationSamplesTable;
  promotion_gates: PromotionGatesTable;
  predictions: PredictionsTable;
  drift_references: DriftReferencesTable;
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

/** 0004_evaluations: a dataset registered for evaluation (its files in the object store under store_prefix). */
export interface DatasetsTable {
  id: string;
  name: string;
  version: string;
  task: string;
  description: string | null;
  licence: string | null;
  samples: number;
  /** bigint: pg returns it as a string. */
  bytes: ColumnType<string, number, number>;
  source: string;
  store_prefix: string;
  sha256: string;
  manifest: Json<Record<string, unknown>>;
  created_at: CreatedAt;
  created_by: string;
}

/** 0004_evaluations (libs/contracts evaluations.ts describes the states). */
export interface EvaluationsTable {
  id: string;
  dataset_id: string;
  model_reference: string;
  model_name: string;
  model_version: string;
  variant: string | null;
  state: string;
  total: number;
  done: ColumnType<number, number | undefined, number>;
  failed: ColumnType<number, number | undefined, number>;
  metrics: Json<Record<string, number> | null>;
  details: Json<Record<string, unknown> | null>;
  latency: Json<Record<string, { p50: number; p95: number }> | null>;
  throughput: number | null;
  execution_providers: ColumnType<string[], string | undefined, string>;
  error: string | null;
  trace_parent: string | null;
  report_prefix: string | null;
  cancel_requested: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
  created_by: string;
  started_at: Date | null;
  finished_at: Date | null;
}

/** 0004_evaluations: one sample of one run. */
export interface EvaluationSamplesTable {
  evaluation_id: string;
  index: number;
  sample: string;
  job_id: string | null;
  /** pending (no job yet) → queued (job id written, then queued) → scored | failed */
  state: string;
  metrics: Json<Record<string, number> | null>;
  /** What the task's aggregate and the paired bootstrap are computed from (libs/evaluation). */
  stats: Json<unknown>;
  timings: Json<Record<string, number> | null>;
  execution_provider: string | null;
  error: string | null;
  finished_at: Date | null;
}

/** 0004_evaluations: a promotion gate set over the admin API (it wins over a manifest's `evaluation.gate`). */
export interface PromotionGatesTable {
  model: string;
  dataset: string;
  metric: string;
  margin: number;
  updated_at: ColumnType<Date, Date | undefined, Date>;
  updated_by: string;
}

/** 0005_predictions: one finished job (issue 15); features per libs/contracts prediction-features.ts. */
export interface PredictionsTable {
  job_id: string;
  finished_at: Date;
  submitted_at: Date | null;
  model: string;
  version: string;
  variant: string | null;
  route: string;
  task: string;
  key_id: string | null;
  /** completed | failed | cancelled */
  status: string;
  error_code: string | null;
  timings: Json<Record<string, number> | null>;
  execution_provider: string | null;
  trace_id: string | null;
  input_features: Json<unknown>;
  output_features: Json<unknown>;
  evaluation_id: string | null;
  /** production | evaluation | reference (0006_drift; rows before it are production). */
  purpose: ColumnType<string, string | undefined, string>;
  /** up | down */
  feedback_rating: string | null;
  feedback_comment: string | null;
  /** Left out on insert: feedback comes later, from the job's owner. */
  feedback_correction: ColumnType<unknown, string | undefined, string>;
  feedback_at: Date | null;
  feedback_by: string | null;
}

/** 0006_drift: the reference profile a model version's production features are compared with. */
export interface DriftReferencesTable {
  model: string;
  version: string;
  source: Json<unknown>;
  profile: Json<unknown>;
  rows: number;
  /** When the profile was (re)built: a replaced reference gets a new time. */
  created_at: ColumnType<Date, Date | undefined, Date>;
  created_by: string;
}
