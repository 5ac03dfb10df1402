import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, FathomError, SCOPES } from '@fathom/contracts';
import { ApiKeyStore, ApiKeyVerifier } from '@fathom/database';
import { API_CONFIG, authMode, type ApiConfig } from '../config/api.config';
import type { Principal } from './principal';

/** API_AUTH=none: every caller, one trusted local user with every scope. */
export const LOCAL_PRINCIPAL: Principal = Object.freeze({
  keyId: 'local',
  owner: 'local',
  scopes: SCOPES,
  limits: { requestsPerSecond: null, jobsInFlight: null },
  authenticated: false,
});

/** Who is calling: the principal the authentication hook set, else (a public route, a bare test app) the local caller. */
export function principalOf(request: { principal?: Principal }): Principal {
  return request.principal ?? LOCAL_PRINCIPAL;
}

/** API_AUTH=keys and the database holds no active key: the API would refuse every request. */
export class NoActiveKeyError extends Error {
  override readonly name = 'NoActiveKeyError';
}

/** The key a request or socket presents: `Authorization: Bearer <key>`, else `X-API-Key: <key>`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authorization = headers['authorization'];
  if (typeof authorization === 'string' && /^bearer /i.test(authorization)) return authorization.slice(7).trim();
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey !== '' ? apiKey.trim() : undefined;
}

const UNAUTHORIZED = 'The API key is malformed, unknown or revoked.';

/** Turns a presented key into the caller's principal, the same way for HTTP and sockets. */
@Injectable()
export class Authenticator {
  readonly mode: 'keys' | 'none';

  constructor(
    @Inject(API_CONFIG) config: ApiConfig,
    @Inject(ApiKeyVerifier) private readonly verifier: ApiKeyVerifier,
    @Inject(ApiKeyStore) private readonly keys: ApiKeyStore,
  ) {
    this.mode = authMode(config);
  }

  /**
   * The principal for a presented key: LOCAL_PRINCIPAL with API_AUTH=none, undefined when no key
   * was sent (a public route may still be called), 401 unauthorized for a bad key.
   */
  async authenticate(key: string | undefined): Promise<Principal | undefined> {
    if (this.mode === 'none') return LOCAL_PRINCIPAL;
    if (key === undefined) return undefined;
    const verified = await this.verifier.verify(key);
    if (!verified) throw new FathomError(ErrorCode.Unauthorized, UNAUTHORIZED);
    return { ...verified, authenticated: true };
  }

  /** Refuses to start with keys on and no key to use: say how to make the first one. */
  async assertUsable(): Promise<void> {
    if (this.mode === 'none' || (await this.keys.hasActiveKey())) return;
    throw new NoActiveKeyError(
      'fathom-api: API_AUTH=keys, but the database has no active API key, so every request would be refused. Create the first one with `npm run keys -- create --owner <you> --scopes keys:admin,models:admin,jobs:write,jobs:read` (same DATABASE_URL), then start the API again',
    );
  }
}
