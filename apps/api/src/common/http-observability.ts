import { context } from '@opentelemetry/api';
import { getRPCMetadata, RPCType } from '@opentelemetry/core';
import { ATTR_HTTP_ROUTE } from '@opentelemetry/semantic-conventions';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { activeTraceId } from '@fathom/telemetry';
import type { ApiMetrics } from '../metrics/api-metrics';

/** The route label of requests no route matched (404): never the raw URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Where uploads arrive; their refusals are counted by reason (fathom_uploads_rejected_total). */
const UPLOAD_ROUTES = new Set(['POST /v1/jobs', 'POST /v1/infer']);

/** The matched route's pattern (`/v1/jobs/:id`), as Nest registered it with Fastify. */
export function routePattern(request: FastifyRequest): string {
  // Optional: the exception filter may be handed a request Fastify never routed.
  return (request.routeOptions as FastifyRequest['routeOptions'] | undefined)?.url ?? UNMATCHED_ROUTE;
}

export function isUploadRoute(request: FastifyRequest): boolean {
  return UPLOAD_ROUTES.has(`${request.method} ${routePattern(request)}`);
}

/**
 * Request metrics and the HTTP server span's route, from Fastify hooks (they see every request,
 * 404s and errors included, with the matched route pattern). Registered before the routes are.
 */
export function installHttpObservability(fastify: FastifyInstance, metrics: ApiMetrics, tracingEnabled: boolean): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    metrics.httpRequestStarted();
    // 'close' comes after the response is sent and when the client goes away first; onResponse only for the former.
    reply.raw.once('close', () => metrics.httpRequestClosed());
    if (tracingEnabled) nameServerSpan(request, reply);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = routePattern(request);
    metrics.httpRequestAnswered(route, request.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}

/**
 * The http instrumentation names its server span after the method only; the route comes from the
 * framework. Setting it in the RPC metadata is how the instrumentation expects to learn it (it then
 * sets `http.route` and the name `POST /v1/jobs` when the response ends); setting both now as well
 * keeps the name right if the connection breaks first. Any traced response carries its trace id.
 */
function nameServerSpan(request: FastifyRequest, reply: FastifyReply): void {
  const rpc = getRPCMetadata(context.active());
  if (rpc?.type !== RPCType.HTTP) return;
  const route = routePattern(request);
  if (route !== UNMATCHED_ROUTE) {
    rpc.route = route;
    rpc.span.updateName(`${request.method} ${route}`);
    rpc.span.setAttribute(ATTR_HTTP_ROUTE, route);
  }
  const traceId = activeTraceId();
  if (traceId) void reply.header('X-Trace-Id', traceId);
}
