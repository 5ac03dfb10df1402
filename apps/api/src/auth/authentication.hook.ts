import { trace, context as otelContext } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import type { PinoLogger } from 'nestjs-pino';
import { KEY_ID_ATTRIBUTE } from '@fathom/telemetry';
import { mapError, sendMapped } from '../common/api-exception.filter';
import { bindKeyIdToRequestLog } from '../common/request-log';
import { presentedKey, type Authenticator } from './authenticator';

/**
 * Sets `request.principal` before anything else reads it (rate limits, guards, handlers): a bad
 * key is answered 401 here, a missing one is left to the route's guard (public routes need none).
 * The key's id goes on the request's log lines and span.
 */
export function installAuthentication(fastify: FastifyInstance, authenticator: Authenticator, logger: PinoLogger): void {
  fastify.addHook('onRequest', async (request, reply) => {
    try {
      const principal = await authenticator.authenticate(presentedKey(request.headers));
      if (!principal) return;
      request.principal = principal;
      bindKeyIdToRequestLog(logger, request.raw, principal.keyId);
      trace.getSpan(otelContext.active())?.setAttribute(KEY_ID_ATTRIBUTE, principal.keyId);
    } catch (error) {
      sendMapped(reply, mapError(error));
      return reply;
    }
  });
}
