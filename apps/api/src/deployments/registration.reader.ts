import '@fastify/multipart';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, FathomError } from '@fathom/contracts';
import { parseManifestText } from './rest-manifest';

/** One uploaded weights file, on this instance's disk until the request is done with it. */
export interface ReceivedWeights {
  field: string;
  path: string;
  bytes: number;
  sha256: string;
}

/** POST /v1/admin/models as read: the manifest (an object to check) and any uploaded weights. */
export interface RegistrationRequest {
  manifest: unknown;
  uploads: Map<string, ReceivedWeights>;
  /** Deletes the uploads' files. */
  cleanup(): Promise<void>;
}

/** File parts one registration takes: the base weights and up to this many less one variants. */
export const MAX_WEIGHTS_FILES = 32;
/** The longest `manifest` form field. */
export const MAX_MANIFEST_BYTES = 256 * 1024;
const WEIGHTS_FIELD = /^weights(\.[a-z0-9][a-z0-9._-]*)?$/;

/**
 * Reads a registration: a JSON or YAML body (the manifest alone, weights by URL), or a multipart
 * form with a `manifest` field and file parts `weights` / `weights.<variant>`. Each file is
 * streamed to a temporary file while its SHA-256 is counted (never held in memory), and refused
 * past `maxWeightsBytes` with 413 weights_too_large naming the limit.
 */
export async function readRegistration(request: FastifyRequest, maxWeightsBytes: number): Promise<RegistrationRequest> {
  const contentType = String(request.headers['content-type'] ?? '');
  if (!request.isMultipart()) {
    const body = request.body;
    if (body === undefined || body === null || body === '')
      throw new FathomError(
        ErrorCode.MissingField,
        'Send a manifest: a JSON or YAML body, or a multipart form with a `manifest` field and the weights as file parts.',
        { field: 'manifest' },
      );
    const manifest = typeof body === 'string' || Buffer.isBuffer(body) ? parseManifestText(String(body), contentType) : body;
    return { manifest, uploads: new Map(), cleanup: async () => undefined };
  }
  const dir = await mkdtemp(join(tmpdir(), 'fathom-weights-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    return { ...(await readParts(request, dir, maxWeightsBytes)), cleanup };
  } catch (error) {
    await cleanup();
    throw limitError(error, maxWeightsBytes) ?? error;
  }
}

async function readParts(request: FastifyRequest, dir: string, maxBytes: number): Promise<Omit<RegistrationRequest, 'cleanup'>> {
  const uploads = new Map<string, ReceivedWeights>();
  let manifestText: string | undefined;
  const limits = {
    fileSize: maxBytes,
    files: MAX_WEIGHTS_FILES,
    fields: 1,
    parts: MAX_WEIGHTS_FILES + 1,
    fieldSize: MAX_MANIFEST_BYTES,
  };
  for await (const part of request.parts({ limits })) {
    if (part.type === 'file') {
      if (!WEIGHTS_FIELD.test(part.fieldname) || uploads.has(part.fieldname)) {
        part.file.resume();
        throw new FathomError(
          ErrorCode.InvalidRequest,
          `Unexpected file part "${part.fieldname}": send the base weights as "weights" and a variant's as "weights.<variant>", each once.`,
          { field: part.fieldname },
        );
      }
      const path = join(dir, String(uploads.size));
      const hash = createHash('sha256');
      let bytes = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          if (bytes > maxBytes) return done(tooLarge(maxBytes));
          hash.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(part.file, meter, createWriteStream(path));
      if (part.file.truncated) throw tooLarge(maxBytes);
      uploads.set(part.fieldname, { field: part.fieldname, path, bytes, sha256: hash.digest('hex') });
    } else if (part.fieldname === 'manifest' && typeof part.value === 'string') {
      if (part.valueTruncated)
        throw new FathomError(ErrorCode.InvalidManifest, `The \`manifest\` field is longer than ${MAX_MANIFEST_BYTES} bytes.`, {
          limitBytes: MAX_MANIFEST_BYTES,
        });
      manifestText = part.value;
    } else {
      throw new FathomError(
        ErrorCode.InvalidRequest,
        `Unknown form field "${part.fieldname}". Fields: manifest (JSON or YAML), weights and weights.<variant> (files).`,
        { field: part.fieldname },
      );
    }
  }
  if (manifestText === undefined)
    throw new FathomError(ErrorCode.MissingField, 'The `manifest` field (JSON or YAML) is missing.', { field: 'manifest' });
  // YAML reads JSON too: the field needs no content type of its own.
  return { manifest: parseManifestText(manifestText, 'yaml'), uploads };
}

function tooLarge(maxBytes: number): FathomError {
  return new FathomError(
    ErrorCode.WeightsTooLarge,
    `A weights file is larger than ${maxBytes} bytes (API_MAX_WEIGHTS_BYTES). Give a larger model as { url, sha256 } instead, or raise the limit.`,
    { limitBytes: maxBytes },
  );
}

/** @fastify/multipart's limit errors, as the registration's own codes. */
function limitError(error: unknown, maxBytes: number): FathomError | undefined {
  switch ((error as { code?: unknown } | null)?.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return tooLarge(maxBytes);
    case 'FST_FILES_LIMIT':
      return new FathomError(ErrorCode.TooManyFiles, `A registration takes at most ${MAX_WEIGHTS_FILES} weights files.`, {
        limitFiles: MAX_WEIGHTS_FILES,
      });
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new FathomError(ErrorCode.TooManyFields, 'Send one `manifest` field and the weights files, each once.');
    default:
      return undefined;
  }
}
