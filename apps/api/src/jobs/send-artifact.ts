import type { FastifyReply } from 'fastify';
import type { InferenceResult } from '@fathom/contracts';

/** Sends a result artifact with its real Content-Type and, for downloads, a sensible file name. */
export async function sendArtifact(reply: FastifyReply, jobId: string, bytes: Buffer, result: InferenceResult, asAttachment: boolean): Promise<void> {
  void reply
    .status(200)
    .header('Content-Type', result.artifact.contentType)
    .header('Content-Length', String(bytes.length))
    .header('X-Fathom-Job-Id', jobId)
    .header('Cache-Control', 'private, max-age=3600');
  if (asAttachment) void reply.header('Content-Disposition', contentDisposition(result.artifact.filename));
  await reply.send(bytes);
}

/** RFC 6266: an ASCII fallback plus the UTF-8 name. */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}
