import type { FastifyRequest } from 'fastify';

const accepted = new WeakSet<object>();

/**
 * Marks a request whose upload became a job. An error after that (POST /v1/infer answering with
 * the job's failure) is the job's outcome, not a refused upload.
 */
export function markUploadAccepted(request: FastifyRequest): void {
  accepted.add(request.raw);
}

export function wasUploadAccepted(request: FastifyRequest): boolean {
  return accepted.has(request.raw);
}
