import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, FathomError, type Scope } from '@fathom/contracts';
import { PUBLIC_ROUTE, REQUIRED_SCOPES } from './scopes.decorator';

/**
 * Global: each HTTP route's declared scopes against the request's principal (set by the
 * authentication hook). Deny by default: a route that declares neither scopes nor @Public() is
 * refused, so a new route cannot be open by oversight. Sockets authenticate in the gateway.
 */
@Injectable()
export class ScopesGuard implements CanActivate {
  constructor(@Inject(Reflector) private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const required = this.reflector.getAllAndOverride<Scope[] | undefined>(REQUIRED_SCOPES, targets);
    if (required === undefined) {
      throw new FathomError(ErrorCode.Forbidden, 'This route declares no scope, so no key may call it.');
    }
    const { principal } = context.switchToHttp().getRequest<FastifyRequest>();
    if (!principal) {
      throw new FathomError(ErrorCode.Unauthorized, 'Send an API key as `Authorization: Bearer <key>` (or `X-API-Key: <key>`).');
    }
    const missing = required.filter((scope) => !principal.scopes.includes(scope));
    if (missing.length > 0) {
      throw new FathomError(ErrorCode.Forbidden, `This key lacks the scope ${missing.join(', ')} this route needs.`, { scopes: missing });
    }
    return true;
  }
}
