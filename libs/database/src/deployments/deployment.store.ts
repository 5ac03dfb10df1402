import { randomBytes } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import {
  ErrorCode,
  FathomError,
  LIVE_DEPLOYMENT_STATES,
  type DeploymentMutable,
  type DeploymentSource,
  type DeploymentState,
  type StoredWeights,
  type TaskName,
  type WorkerSelector,
} from '@fathom/contracts';
import type { Database } from '../database';
import { withDatabase } from '../database-errors';
import { auditRecordOf, recordAudit, type AuditRecord } from '../keys/audit-log.store';
import type { DeploymentsTable } from '../schema';

/** Weights of one part of a deployment ('' the base, else a variant): stored ones have bytes > 0; a URL not pulled yet has 0. */
export type DeploymentWeights = StoredWeights & { url?: string };

/** A row of the deployments table, as the API uses it. */
export interface DeploymentRecord {
  id: string;
  name: string;
  version: string;
  task: TaskName;
  state: DeploymentState;
  reason: string | null;
  source: DeploymentSource;
  manifest: Record<string, unknown>;
  weights: Record<string, DeploymentWeights>;
  description: string | null;
  defaults: Record<string, unknown> | null;
  batching: { maxBatch: number; maxDelayMs: number } | null;
  selector: WorkerSelector;
  replicas: number | null;
  revision: number;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  retiredAt: string | null;
}

export interface NewDeployment {
  name: string;
  version: string;
  task: TaskName;
  state: DeploymentState;
  source: DeploymentSource;
  manifest: Record<string, unknown>;
  weights: Record<string, DeploymentWeights>;
  description?: string | null;
  defaults?: Record<string, unknown> | null;
  batching?: { maxBatch: number; maxDelayMs: number } | null;
  selector?: WorkerSelector;
  replicas?: number | null;
}

/** Who changed a deployment: a key id (or `worker`, `api` for what the reconciler does), the trace and the client address. */
export interface DeploymentActor {
  actor: string;
  traceId?: string | null;
  address?: string | null;
}

/** Optional changes made with a state move (the weights once pulled, the manifest with them). */
export interface TransitionChanges {
  reason?: string | null;
  weights?: Record<string, DeploymentWeights>;
  manifest?: Record<string, unknown>;
}

const AUDIT_TARGET = 'deployment';

/**
 * The deployments registry in PostgreSQL (ADR 0015), the source of truth. Every change writes its
 * audit entry in the same transaction; state moves are conditional (`WHERE state IN (<expected>)`),
 * so several API instances moving the same deployment agree without a leader: one wins, the others
 * change nothing.
 */
export class DeploymentStore {
  constructor(private readonly db: Database) {}

  /**
   * Registers a deployment; a live one with the same name@version is 409 deployment_exists.
   * `audit` false: a row that records what workers already run (registerLocal), not a change.
   */
  create(spec: NewDeployment, by: DeploymentActor, { audit = true }: { audit?: boolean } = {}): Promise<DeploymentRecord> {
    return withDatabase(async () => {
      try {
        return await this.db.transaction().execute(async (trx) => {
          const row = await trx
            .insertInto('deployments')
            .values({
              id: deploymentId(),
              name: spec.name,
              version: spec.version,
              task: spec.task,
              state: spec.state,
              reason: null,
              source: spec.source,
              manifest: JSON.stringify(spec.manifest),
              weights: JSON.stringify(spec.weights),
              description: spec.description ?? null,
              defaults: JSON.stringify(spec.defaults ?? null),
              batching: JSON.stringify(spec.batching ?? null),
              selector: JSON.stringify(spec.selector ?? {}),
              replicas: spec.replicas ?? null,
              created_by: by.actor,
              retired_at: null,
            })
            .returningAll()
            .executeTakeFirstOrThrow();
          const record = toRecord(row);
          if (audit) await recordAudit(trx, auditOf(by, 'deployment.registered', record, { state: record.state, source: record.source }));
          return record;
        });
      } catch (error) {
        if ((error as { code?: unknown }).code === '23505') throw exists(spec.name, spec.version);
        throw error;
      }
    });
  }

  /** The deployment by id, or undefined. */
  find(id: string): Promise<DeploymentRecord | undefined> {
    return withDatabase(async () => {
      const row = await this.db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toRecord(row);
    });
  }

  /** The live deployment of name@version (or its latest row when none is live), or 404 deployment_not_found. */
  async get(name: string, version: string): Promise<DeploymentRecord> {
    const rows = await this.versionRows(name, version);
    const row = rows.find((r) => LIVE_DEPLOYMENT_STATES.includes(r.state)) ?? rows[0];
    if (!row) throw notFound(`${name}@${version}`);
    return row;
  }

  /** Every row of name@version, newest first. */
  versionRows(name: string, version: string): Promise<DeploymentRecord[]> {
    return withDatabase(async () => {
      const rows = await this.db
        .selectFrom('deployments')
        .selectAll()
        .where('name', '=', name)
        .where('version', '=', version)
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .execute();
      return rows.map(toRecord);
    });
  }

  /**
   * Deployments newest first, optionally only those in `states` (or, with `changedWithinMs`, in any
   * state but changed that recently) and of one model.
   */
  list(
    filter: { states?: readonly DeploymentState[]; changedWithinMs?: number; name?: string; limit?: number } = {},
  ): Promise<DeploymentRecord[]> {
    return withDatabase(async () => {
      let query = this.db.selectFrom('deployments').selectAll().orderBy('created_at', 'desc').orderBy('id');
      const { states, changedWithinMs } = filter;
      if (states && changedWithinMs !== undefined)
        query = query.where((eb) =>
          eb.or([
            eb('state', 'in', [...states]),
            eb('updated_at', '>', sql<Date>`now() - make_interval(secs => ${changedWithinMs / 1000})`),
          ]),
        );
      else if (states) query = query.where('state', 'in', [...states]);
      if (filter.name !== undefined) query = query.where('name', '=', filter.name);
      if (filter.limit !== undefined) query = query.limit(filter.limit);
      const rows = await query.execute();
      return rows.map(toRecord);
    });
  }

  /**
   * Moves a deployment from one of `from` to `to` (with `changes`), writing `action` (default
   * `deployment.<to>`) to the audit log unless `audit` is false; undefined when it was no longer in
   * one of `from` (another instance moved it first).
   */
  transition(
    id: string,
    from: readonly DeploymentState[],
    to: DeploymentState,
    by: DeploymentActor,
    changes: TransitionChanges = {},
    { action = `deployment.${to}`, audit = true }: { action?: string; audit?: boolean } = {},
  ): Promise<DeploymentRecord | undefined> {
    return withDatabase(() =>
      this.db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable('deployments')
          .set({
            state: to,
            updated_at: sql<Date>`now()`,
            revision: sql<number>`revision + 1`,
            ...(changes.reason !== undefined ? { reason: changes.reason } : {}),
            ...(changes.weights ? { weights: JSON.stringify(changes.weights) } : {}),
            ...(changes.manifest ? { manifest: JSON.stringify(changes.manifest) } : {}),
            ...(to === 'retired' ? { retired_at: sql<Date>`now()` } : {}),
          })
          .where('id', '=', id)
          .where('state', 'in', [...from])
          .returningAll()
          .executeTakeFirst();
        if (!row) return undefined;
        const record = toRecord(row);
        if (audit)
          await recordAudit(
            trx,
            auditOf(by, action, record, { from, to, ...(record.reason !== null && to === 'failed' ? { reason: record.reason } : {}) }),
          );
        return record;
      }),
    );
  }

  /** Changes the mutable fields of a live deployment and bumps its revision; 404 when name@version has none live. */
  update(name: string, version: string, change: DeploymentMutable, by: DeploymentActor): Promise<DeploymentRecord> {
    return withDatabase(() =>
      this.db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable('deployments')
          .set({
            updated_at: sql<Date>`now()`,
            revision: sql<number>`revision + 1`,
            ...(change.description !== undefined ? { description: change.description } : {}),
            ...(change.defaults !== undefined ? { defaults: JSON.stringify(change.defaults) } : {}),
            ...(change.batching !== undefined ? { batching: JSON.stringify(change.batching) } : {}),
            ...(change.selector !== undefined ? { selector: JSON.stringify(change.selector) } : {}),
            ...(change.replicas !== undefined ? { replicas: change.replicas } : {}),
          })
          .where('name', '=', name)
          .where('version', '=', version)
          .where('state', 'in', [...LIVE_DEPLOYMENT_STATES])
          .returningAll()
          .executeTakeFirst();
        if (!row) throw notFound(`${name}@${version}`, 'no live deployment (failed and retired ones cannot change)');
        const record = toRecord(row);
        await recordAudit(trx, auditOf(by, 'deployment.updated', record, { change, revision: record.revision }));
        return record;
      }),
    );
  }

  /**
   * Registers what a worker declared (a manifest in its MODELS_DIR, a built-in) as a `local`
   * deployment, unless name@version has a live or retired row already (a retired local one stays
   * retired: its tombstone keeps workers off it). Undefined when another instance did it first.
   * Not audited: the registry catching up with what workers already run is no one's change (what
   * is done to it afterwards, retiring it, is).
   */
  registerLocal(spec: NewDeployment): Promise<DeploymentRecord | undefined> {
    return withDatabase(async () => {
      const blocking = await this.db
        .selectFrom('deployments')
        .select('id')
        .where('name', '=', spec.name)
        .where('version', '=', spec.version)
        .where('state', '!=', 'failed')
        .executeTakeFirst();
      if (blocking) return undefined;
      return this.create(spec, { actor: 'worker' }, { audit: false }).catch((error: unknown) => {
        if (error instanceof FathomError && error.code === ErrorCode.DeploymentExists) return undefined;
        throw error;
      });
    });
  }

  /** Whether weights with this SHA-256 were stored for any deployment already (the object store keeps them, never swept). */
  hasStoredWeights(sha256: string): Promise<boolean> {
    return withDatabase(async () => {
      const row = await this.db
        .selectFrom('deployments')
        .select('id')
        .where(
          sql<boolean>`jsonb_path_exists(weights, '$.* ? (@.sha256 == $sha && @.bytes > 0)', jsonb_build_object('sha', ${sha256}::text))`,
        )
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    });
  }

  /** A model's deployment audit entries, newest first. */
  history(name: string, limit = 100): Promise<AuditRecord[]> {
    return withDatabase(async () => {
      const rows = await this.db
        .selectFrom('audit_log')
        .selectAll()
        .where('target_type', '=', AUDIT_TARGET)
        .where('target_id', 'like', `${escapeLike(name)}@%`)
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map(auditRecordOf);
    });
  }
}

function auditOf(
  by: DeploymentActor,
  action: string,
  record: Pick<DeploymentRecord, 'id' | 'name' | 'version'>,
  details: Record<string, unknown>,
) {
  return {
    actor: by.actor,
    action,
    targetType: AUDIT_TARGET,
    targetId: `${record.name}@${record.version}`,
    details: { deploymentId: record.id, ...details },
    traceId: by.traceId ?? null,
    address: by.address ?? null,
  };
}

function exists(name: string, version: string): FathomError {
  return new FathomError(
    ErrorCode.DeploymentExists,
    `${name}@${version} is registered already. Register a new version string, or DELETE /v1/admin/models/${name}/${version} first.`,
    { name, version },
  );
}

function notFound(what: string, why = 'no deployment'): FathomError {
  return new FathomError(ErrorCode.DeploymentNotFound, `${what} has ${why}. See GET /v1/admin/models.`);
}

/**
 * A UUIDv7 (RFC 9562): the creation time in milliseconds first, so ids sort in creation order —
 * workers load deployments in id order (ADR 0015).
 */
export function deploymentId(now = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

const iso = (at: Date | string): string => new Date(at).toISOString();

function toRecord(row: Selectable<DeploymentsTable>): DeploymentRecord {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    task: row.task as TaskName,
    state: row.state as DeploymentState,
    reason: row.reason,
    source: row.source as DeploymentSource,
    manifest: row.manifest,
    weights: row.weights,
    description: row.description,
    defaults: row.defaults,
    batching: row.batching,
    selector: row.selector,
    replicas: row.replicas,
    revision: row.revision,
    createdAt: iso(row.created_at),
    createdBy: row.created_by,
    updatedAt: iso(row.updated_at),
    retiredAt: row.retired_at ? iso(row.retired_at) : null,
  };
}
