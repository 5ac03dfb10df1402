import type { FastifyReply } from 'fastify';
import type { Artifact } from '@fathom/contracts';

/** Sends a result artifact with its real Content-Type and, for downloads, a sensible file name. */
export async function sendArtifact(
  reply: FastifyReply,
  jobId: string,
  bytes: Buffer,
  artifact: Artifact,
  asAttachment: boolean,
): Promise<void> {
  void reply
    .status(200)
    .header('Content-Type', artifact.contentType)
    .header('X-Fathom-Artifact', artifact.name)
    .header('Content-Length', String(bytes.length))
    .header('X-Fathom-Job-Id', jobId)
    .header('Cache-Control', 'private, max-age=3600');
  if (asAttachment) void reply.header('Content-Disposition', contentDisposition(artifact.filename));
  await reply.send(bytes);
}

/** RFC 6266: an ASCII fallback plus the UTF-8 name. */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}
