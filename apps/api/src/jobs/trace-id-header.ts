import type { FastifyReply } from 'fastify';

/**
 * The job's trace id, to find the job's trace (and its log lines) from a response. It replaces the
 * request's own trace id that a traced response otherwise carries: the job's trace is the one that
 * matters, and for GET /v1/jobs/:id it is the upload's, not the poll's.
 */
export function setTraceIdHeader(reply: FastifyReply, traceId: string | null): void {
  if (traceId) void reply.header('X-Trace-Id', traceId);
}
