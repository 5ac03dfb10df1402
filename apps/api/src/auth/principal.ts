import type { KeyLimits, Scope } from '@fathom/contracts';

/**
 * Who is calling: set on every request (`request.principal`) and socket before any route or
 * limit sees it. With API keys it is the key (its id, never its secret); with API_AUTH=none
 * (loopback only) every caller is the one local principal.
 */
export interface Principal {
  /** The key's public id (in job records, logs, traces, the audit log); 'local' with API_AUTH=none. */
  keyId: string;
  /** Who the key belongs to (a person, team or service), as its creator named it. */
  owner: string;
  scopes: readonly Scope[];
  /** The key's own limits; null fields: the API's defaults. */
  limits: KeyLimits;
  /** False with API_AUTH=none: one trusted local caller, limited per client address instead of per key. */
  authenticated: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook (onRequest) before rate limits, guards and handlers run. */
    principal?: Principal;
  }
}
