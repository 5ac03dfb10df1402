import type { FastifyReply, FastifyRequest } from 'fastify';
import { markUploadAccepted } from '../common/accepted-uploads';
import { principalOf } from '../auth/authenticator';
import type { JobSubmitter, Submission } from './job-submitter.service';
import { setTraceIdHeader } from './trace-id-header';

/**
 * What POST /v1/jobs and POST /v1/infer do first: read the form and submit it. From then on the
 * request answers as the job (an error is the job's, not a refused upload), with the job's trace id.
 */
export async function submitUpload(
  submitter: JobSubmitter,
  request: FastifyRequest,
  reply: FastifyReply,
  idempotencyKey: string | undefined,
): Promise<Submission> {
  const header = request.headers['x-deadline'];
  const deadlineHeader = Array.isArray(header) ? header.join(',') : header;
  const submission = await submitter.submit(request, principalOf(request), idempotencyKey, deadlineHeader);
  markUploadAccepted(request);
  setTraceIdHeader(reply, submission.traceId);
  return submission;
}
