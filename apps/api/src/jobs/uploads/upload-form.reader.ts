import '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, FathomError } from '@fathom/contracts';
import { inSpan } from '../../common/tracing';
import { imageTooLarge, IncomingImage } from './incoming-image';

/**
 * The multipart form of POST /v1/jobs and POST /v1/infer; `image` is what the caller's receiver
 * made of the file while it arrived (readUploadForm).
 */
export interface UploadForm<Image> {
  image: Image;
  model: string | undefined;
  options: string | undefined;
  /** A named fine-tune of the model (see GET /v1/models). */
  variant: string | undefined;
  /** When the client stops caring (see parseDeadline), as sent. */
  deadline: string | undefined;
  /** `reference`: an image profiled for a drift reference (models:admin), kept out of drift's production window. */
  purpose: string | undefined;
}

const KNOWN_FIELDS = new Set(['model', 'options', 'variant', 'deadline', 'purpose']);
const FIELD_LIST = 'image (file), model, variant, options (JSON), deadline, purpose';

/** The longest text field (`options` in practice): a longer one is refused, never cut. */
export const MAX_FIELD_BYTES = 64 * 1024;

/**
 * @fastify/multipart's limits for the upload form: what it takes and no more. Busboy stops at each
 * and @fastify/multipart throws, except for fieldSize, where it cuts the value and flags it
 * (`valueTruncated`): readUploadForm refuses those.
 */
export function uploadFormLimits(maxImageBytes: number) {
  return {
    fileSize: maxImageBytes,
    files: 1,
    fields: KNOWN_FIELDS.size,
    parts: KNOWN_FIELDS.size + 1,
    fieldSize: MAX_FIELD_BYTES,
  };
}

/**
 * What to do with the image file as it arrives (stream it to the store): `receive` must read it to
 * its end, or throw; busboy gives no later part until it has. What it returns is the form's `image`.
 */
export type ImageReceiver<Image> = (image: IncomingImage, fieldsBefore: Readonly<Record<string, string>>) => Promise<Image>;

/**
 * Reads the form with @fastify/multipart (uploadFormLimits: one file, four fields, bounded sizes).
 * The file is never buffered here: `receive` gets it as it arrives, the fields sent before it
 * read, those after it not yet.
 */
export async function readUploadForm<Image>(
  request: FastifyRequest,
  maxImageBytes: number,
  receive: ImageReceiver<Image>,
): Promise<UploadForm<Image>> {
  if (!request.isMultipart()) {
    throw new FathomError(ErrorCode.InvalidRequest, 'Expected a multipart/form-data request with an `image` file and a `model` field.');
  }
  try {
    return await readParts(request, maxImageBytes, receive);
  } catch (error) {
    throw limitError(error, maxImageBytes) ?? error;
  }
}

async function readParts<Image>(request: FastifyRequest, maxImageBytes: number, receive: ImageReceiver<Image>): Promise<UploadForm<Image>> {
  let image: { received: Image } | undefined;
  const fields: Record<string, string> = {};
  for await (const part of request.parts({ limits: uploadFormLimits(maxImageBytes) })) {
    if (part.type === 'file') {
      if (part.fieldname !== 'image' || image) {
        await new IncomingImage(part.file, undefined, maxImageBytes).discard(); // read, never kept, so the stream ends cleanly
        throw new FathomError(
          ErrorCode.InvalidRequest,
          `Unexpected file field "${part.fieldname}": send one file, in the \`image\` field.`,
        );
      }
      image = { received: await receive(new IncomingImage(part.file, part.filename || undefined, maxImageBytes), { ...fields }) };
    } else if (KNOWN_FIELDS.has(part.fieldname) && typeof part.value === 'string') {
      if (part.valueTruncated) throw fieldTooLong(part.fieldname);
      fields[part.fieldname] = part.value;
    } else {
      throw new FathomError(ErrorCode.InvalidRequest, `Unknown form field "${part.fieldname}". Fields: ${FIELD_LIST}.`);
    }
  }
  if (!image) throw new FathomError(ErrorCode.MissingField, 'The `image` file field is missing.', { field: 'image' });
  return {
    image: image.received,
    model: fields.model,
    options: fields.options,
    variant: fields.variant || undefined,
    deadline: fields.deadline,
    purpose: fields.purpose || undefined,
  };
}

function fieldTooLong(field: string): FathomError {
  if (field === 'options') {
    return new FathomError(
      ErrorCode.OptionsTooLarge,
      `The \`options\` field is longer than ${MAX_FIELD_BYTES} bytes. Send only the options you change; ` +
        "the model's defaults apply to the rest (GET /v1/models).",
      { limitBytes: MAX_FIELD_BYTES },
    );
  }
  return new FathomError(ErrorCode.InvalidRequest, `The \`${field}\` field is longer than ${MAX_FIELD_BYTES} bytes.`, {
    field,
    limitBytes: MAX_FIELD_BYTES,
  });
}

/** @fastify/multipart's limit errors (`code` FST_*), as the form's own codes with what to send instead. */
function limitError(error: unknown, maxImageBytes: number): FathomError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const { fields, files } = uploadFormLimits(maxImageBytes);
  switch (code) {
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new FathomError(
        ErrorCode.TooManyFields,
        `The form has more than ${fields} fields and ${files} file. Send only: ${FIELD_LIST}, each once.`,
        { limitFields: fields, limitFiles: files },
      );
    case 'FST_FILES_LIMIT':
      return new FathomError(ErrorCode.TooManyFiles, `The form has more than ${files} file. Send one image, in the \`image\` field.`, {
        limitFiles: files,
      });
    case 'FST_REQ_FILE_TOO_LARGE':
      return imageTooLarge(maxImageBytes);
    default:
      return undefined;
  }
}

/** readUploadForm in a `read upload` span: receiving the bytes is often the slowest part of a submission. */
export function readTracedUploadForm<Image extends { bytes: number }>(
  request: FastifyRequest,
  maxImageBytes: number,
  receive: ImageReceiver<Image>,
): Promise<UploadForm<Image>> {
  return inSpan('read upload', async (span) => {
    const form = await readUploadForm(request, maxImageBytes, receive);
    span.setAttribute('fathom.image.bytes', form.image.bytes);
    return form;
  });
}
