import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { principalOf } from './authenticator';
import type { Principal } from './principal';

/**
 * The request's principal, for handlers that record who acted or whose resource it is. Routes
 * behind ScopesGuard always have one; the local caller stands in for none (a public route).
 */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal =>
  principalOf(context.switchToHttp().getRequest<FastifyRequest>()),
);
