import { sql } from 'kysely';
import { ErrorCode, FathomError, type KeyLimits, type Scope } from '@fathom/contracts';
import type { Database } from '../database';
import { withDatabase } from '../database-errors';
import type { ApiKeysTable } from '../schema';
import { recordAudit, type AuditEntry } from './audit-log.store';
import { generateApiKey, hashSecret } from './api-key-token';

/** A key as listed: everything but its secret, which is never stored. */
export interface ApiKeyView {
  id: string;
  owner: string;
  name: string | null;
  scopes: Scope[];
  limits: KeyLimits;
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

/** A key just created: the only time its secret (`key`) is shown. */
export interface CreatedApiKey extends ApiKeyView {
  key: string;
}

export interface NewApiKey {
  owner: string;
  name?: string | null;
  scopes: readonly Scope[];
  limits?: Partial<KeyLimits>;
}

/** Who does it: a key id, or `cli:<user>`; and the trace the change was made in, if any. */
export interface Actor {
  actor: string;
  traceId?: string | null;
}

/** What verification needs of a key. */
export interface StoredApiKey {
  id: string;
  owner: string;
  scopes: Scope[];
  limits: KeyLimits;
  secretHash: string;
  revoked: boolean;
}

/**
 * API keys in PostgreSQL. Creating and revoking write the audit log in the same transaction, so a
 * key never exists without the entry that says who made it.
 */
export class ApiKeyStore {
  constructor(private readonly db: Database) {}

  create(spec: NewApiKey, by: Actor): Promise<CreatedApiKey> {
    const { id, secret, token } = generateApiKey();
    return withDatabase(() =>
      this.db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('api_keys')
          .values({
            id,
            owner: spec.owner,
            name: spec.name ?? null,
            scopes: [...spec.scopes],
            secret_hash: hashSecret(secret),
            requests_per_second: spec.limits?.requestsPerSecond ?? null,
            jobs_in_flight: spec.limits?.jobsInFlight ?? null,
            created_by: by.actor,
            last_used_at: null,
            revoked_at: null,
            revoked_by: null,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        const view = toView(row);
        await recordAudit(
          trx,
          auditOf(by, 'key.created', id, { owner: view.owner, name: view.name, scopes: view.scopes, limits: view.limits }),
        );
        return { ...view, key: token };
      }),
    );
  }

  /** Every key, newest first, revoked ones included (they say so). */
  list(): Promise<ApiKeyView[]> {
    return withDatabase(async () => {
      const rows = await this.db.selectFrom('api_keys').selectAll().orderBy('created_at', 'desc').orderBy('id').execute();
      return rows.map(toView);
    });
  }

  /** The key, or 404 key_not_found. */
  get(id: string): Promise<ApiKeyView> {
    return withDatabase(async () => {
      const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw notFound(id);
      return toView(row);
    });
  }

  /** Revokes the key (once: revoking it again changes nothing and writes no entry). */
  revoke(id: string, by: Actor): Promise<ApiKeyView> {
    return withDatabase(() =>
      this.db.transaction().execute(async (trx) => {
        const revoked = await trx
          .updateTable('api_keys')
          .set({ revoked_at: sql<Date>`now()`, revoked_by: by.actor })
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .returningAll()
          .executeTakeFirst();
        if (revoked) {
          await recordAudit(trx, auditOf(by, 'key.revoked', id, { owner: revoked.owner }));
          return toView(revoked);
        }
        const row = await trx.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
        if (!row) throw notFound(id);
        return toView(row);
      }),
    );
  }

  /** The key with its digest, for verification; undefined for an id never issued. */
  find(id: string): Promise<StoredApiKey | undefined> {
    return withDatabase(async () => {
      const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return undefined;
      const view = toView(row);
      return {
        id,
        owner: view.owner,
        scopes: view.scopes,
        limits: view.limits,
        secretHash: row.secret_hash,
        revoked: row.revoked_at !== null,
      };
    });
  }

  /** Whether any key is not revoked (the API refuses to start with keys on and none). */
  hasActiveKey(): Promise<boolean> {
    return withDatabase(async () => {
      const row = await this.db.selectFrom('api_keys').select('id').where('revoked_at', 'is', null).limit(1).executeTakeFirst();
      return row !== undefined;
    });
  }

  /** Records that the key was used now. */
  touch(id: string): Promise<void> {
    return withDatabase(async () => {
      await this.db
        .updateTable('api_keys')
        .set({ last_used_at: sql<Date>`now()` })
        .where('id', '=', id)
        .execute();
    });
  }
}

function auditOf(by: Actor, action: string, keyId: string, details: Record<string, unknown>): AuditEntry {
  return { actor: by.actor, action, targetType: 'api_key', targetId: keyId, details, traceId: by.traceId ?? null };
}

function notFound(id: string): FathomError {
  return new FathomError(ErrorCode.KeyNotFound, `No API key has the id "${id}".`);
}

type ApiKeyRow = { [K in keyof ApiKeysTable]: K extends 'created_at' ? Date : ApiKeysTable[K] };

function toView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    owner: row.owner,
    name: row.name,
    scopes: row.scopes as Scope[],
    limits: { requestsPerSecond: row.requests_per_second, jobsInFlight: row.jobs_in_flight },
    createdAt: iso(row.created_at),
    createdBy: row.created_by,
    lastUsedAt: row.last_used_at ? iso(row.last_used_at) : null,
    revokedAt: row.revoked_at ? iso(row.revoked_at) : null,
    revokedBy: row.revoked_by,
  };
}

const iso = (at: Date | string): string => new Date(at).toISOString();
