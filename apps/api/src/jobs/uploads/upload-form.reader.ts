import '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, FathomError } from '@fathom/contracts';
import { inSpan } from '../../common/tracing';

/** The multipart form of POST /v1/jobs and POST /v1/infer. */
export interface UploadForm {
  image: { bytes: Buffer; filename: string | undefined };
  model: string | undefined;
  options: string | undefined;
  /** A named fine-tune of the model (see GET /v1/models). */
  variant: string | undefined;
}

const KNOWN_FIELDS = new Set(['model', 'options', 'variant']);

/**
 * Reads the form with @fastify/multipart (limits set at registration: one file, bounded size).
 * The file is buffered: it goes to the blob store whole, and sharp wants the whole header anyway.
 */
export async function readUploadForm(request: FastifyRequest): Promise<UploadForm> {
  if (!request.isMultipart()) {
    throw new FathomError(ErrorCode.InvalidRequest, 'Expected a multipart/form-data request with an `image` file and a `model` field.');
  }
  let image: UploadForm['image'] | undefined;
  const fields: Record<string, string> = {};
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'image' || image) {
        await part.toBuffer(); // drain it so the stream ends cleanly
        throw new FathomError(
          ErrorCode.InvalidRequest,
          `Unexpected file field "${part.fieldname}": send one file, in the \`image\` field.`,
        );
      }
      image = { bytes: await part.toBuffer(), filename: part.filename || undefined };
    } else if (KNOWN_FIELDS.has(part.fieldname) && typeof part.value === 'string') {
      fields[part.fieldname] = part.value;
    } else {
      throw new FathomError(
        ErrorCode.InvalidRequest,
        `Unknown form field "${part.fieldname}". Fields: image (file), model, variant, options (JSON).`,
      );
    }
  }
  if (!image) throw new FathomError(ErrorCode.MissingField, 'The `image` file field is missing.', { field: 'image' });
  return { image, model: fields.model, options: fields.options, variant: fields.variant || undefined };
}

/** readUploadForm in a `read upload` span: receiving the bytes is often the slowest part of a submission. */
export function readTracedUploadForm(request: FastifyRequest): Promise<UploadForm> {
  return inSpan('read upload', async (span) => {
    const form = await readUploadForm(request);
    span.setAttribute('fathom.image.bytes', form.image.bytes.length);
    return form;
  });
}
