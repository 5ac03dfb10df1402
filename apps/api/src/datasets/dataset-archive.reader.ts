import '@fastify/multipart';
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, FathomError } from '@fathom/contracts';
import type { ArchiveKind } from '@fathom/evaluation';

/** The `archive` file part of POST /v1/datasets, on this instance's disk until the request is done with it. */
export interface ReceivedArchive {
  /** The name the client gave it, for messages only. */
  filename: string;
  path: string;
  bytes: number;
  kind: ArchiveKind;
  /** A temporary folder of the request's own, for unpacking beside the archive; removed by cleanup. */
  workDir: string;
  cleanup(): Promise<void>;
}

/**
 * The archive's kind from its magic bytes, not its name: zip `PK\3\4` (or `PK\5\6`, an empty
 * one), gzip `1f 8b` (a .tar.gz), tar `ustar` at offset 257; undefined for anything else.
 */
export function archiveKindOf(head: Buffer): ArchiveKind | undefined {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6)))
    return 'zip';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  return undefined;
}

/**
 * Reads POST /v1/datasets: a multipart form with one file part, `archive`. The file is streamed
 * to a temporary file (never held in memory) and refused past `maxBytes` with 413
 * dataset_too_large naming the limit; its kind is read from its first bytes.
 */
export async function readDatasetArchive(request: FastifyRequest, maxBytes: number): Promise<ReceivedArchive> {
  if (!request.isMultipart())
    throw new FathomError(
      ErrorCode.InvalidRequest,
      'Send the dataset as a multipart/form-data request with the archive (.tar, .tar.gz or .zip) in the `archive` field.',
    );
  const workDir = await mkdtemp(join(tmpdir(), 'fathom-dataset-'));
  const cleanup = () => rm(workDir, { recursive: true, force: true });
  try {
    return { ...(await readParts(request, workDir, maxBytes)), workDir, cleanup };
  } catch (error) {
    await cleanup();
    throw (error as { code?: unknown } | null)?.code === 'FST_REQ_FILE_TOO_LARGE' ? tooLarge(maxBytes) : error;
  }
}

async function readParts(request: FastifyRequest, dir: string, maxBytes: number): Promise<Omit<ReceivedArchive, 'workDir' | 'cleanup'>> {
  let received: Omit<ReceivedArchive, 'workDir' | 'cleanup' | 'kind'> | undefined;
  for await (const part of request.parts({ limits: { fileSize: maxBytes, files: 1, fields: 0, parts: 1 } })) {
    if (part.type !== 'file' || part.fieldname !== 'archive') {
      if (part.type === 'file') part.file.resume();
      throw new FathomError(
        ErrorCode.InvalidRequest,
        `Unexpected form part "${part.fieldname}": send the dataset archive as the one file part "archive".`,
        {
          field: part.fieldname,
        },
      );
    }
    const path = join(dir, 'archive');
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        done(bytes > maxBytes ? tooLarge(maxBytes) : null, chunk);
      },
    });
    await pipeline(part.file, meter, createWriteStream(path));
    if (part.file.truncated) throw tooLarge(maxBytes);
    received = { filename: part.filename || 'archive', path, bytes };
  }
  if (!received)
    throw new FathomError(
      ErrorCode.MissingField,
      'The `archive` file part is missing: send the dataset as a .tar, .tar.gz or .zip in it.',
      {
        field: 'archive',
      },
    );
  const kind = archiveKindOf(await headOf(received.path));
  if (!kind)
    throw new FathomError(
      ErrorCode.InvalidDataset,
      `${received.filename}: not a tar, gzip-compressed tar or zip archive (read from its first bytes, not its name). Pack the folder with dataset.yaml as .tar, .tar.gz or .zip.`,
      { file: received.filename },
    );
  return { ...received, kind };
}

async function headOf(path: string): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

function tooLarge(maxBytes: number): FathomError {
  return new FathomError(
    ErrorCode.DatasetTooLarge,
    `The dataset archive is larger than ${maxBytes} bytes (API_MAX_DATASET_BYTES), packed or unpacked. Split it into smaller datasets, or raise the limit.`,
    { limitBytes: maxBytes },
  );
}
