import { SetMetadata } from '@nestjs/common';
import type { Scope } from '@fathom/contracts';

export const REQUIRED_SCOPES = 'fathom:required-scopes';
export const PUBLIC_ROUTE = 'fathom:public-route';

/**
 * The scopes a route needs, all of them; none listed: any valid key. Every route declares this or
 * @Public(): ScopesGuard refuses a route that declares neither.
 */
export const RequireScopes = (...scopes: Scope[]) => SetMetadata(REQUIRED_SCOPES, scopes);

/** A route anyone may call, without a key (health checks, the web page). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
