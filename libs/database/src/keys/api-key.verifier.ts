import type { KeyLimits, Scope } from '@fathom/contracts';
import type { ApiKeyStore, StoredApiKey } from './api-key.store';
import { parseApiKey, secretMatches } from './api-key-token';

/** A key that verified: who it is, what it may do. */
export interface VerifiedKey {
  keyId: string;
  owner: string;
  scopes: readonly Scope[];
  limits: KeyLimits;
}

export interface VerifierOptions {
  /** How long a key read from the database is trusted: a revocation takes effect everywhere within it. */
  cacheMs: number;
  /** last_used_at is written at most this often per key (and per process). */
  touchEveryMs?: number;
  /** Keys remembered at most (unknown ids included), so a flood of made-up ids cannot grow memory without bound. */
  maxEntries?: number;
  now?: () => number;
  /** Hears of a failed last_used_at write (it never fails the request). */
  onTouchError?: (error: Error) => void;
}

/**
 * Checks presented keys against the store, remembering each key's row for `cacheMs` so a request
 * costs no database round trip; the secret is compared with the stored digest every time, in
 * constant time. Each API instance has its own cache: a revoked key stops working on all of them
 * within `cacheMs`.
 */
export class ApiKeyVerifier {
  private readonly cache = new Map<string, { key: StoredApiKey | undefined; until: number }>();
  private readonly touched = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly store: ApiKeyStore,
    private readonly options: VerifierOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The key's principal, or undefined for a malformed, unknown or revoked key or a wrong secret. */
  async verify(token: string): Promise<VerifiedKey | undefined> {
    const parsed = parseApiKey(token);
    if (!parsed) return undefined;
    const key = await this.lookup(parsed.id);
    if (!key || key.revoked || !secretMatches(parsed.secret, key.secretHash)) return undefined;
    this.touch(key.id);
    return { keyId: key.id, owner: key.owner, scopes: key.scopes, limits: key.limits };
  }

  private async lookup(id: string): Promise<StoredApiKey | undefined> {
    const now = this.now();
    const cached = this.cache.get(id);
    if (cached && cached.until > now) return cached.key;
    const key = await this.store.find(id);
    if (this.cache.size >= (this.options.maxEntries ?? 10_000)) this.cache.clear();
    this.cache.set(id, { key, until: now + this.options.cacheMs });
    return key;
  }

  private touch(id: string): void {
    const now = this.now();
    if (now - (this.touched.get(id) ?? -Infinity) < (this.options.touchEveryMs ?? 60_000)) return;
    if (this.touched.size >= (this.options.maxEntries ?? 10_000)) this.touched.clear();
    this.touched.set(id, now);
    this.store.touch(id).catch((error: Error) => this.options.onTouchError?.(error));
  }
}
