import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';

export type WeightsProblemCode = 'missing' | 'empty' | 'git_lfs_pointer' | 'html_page' | 'too_small' | 'not_onnx';

/** Why a file is not usable model weights, in words a person can act on. */
export interface WeightsProblem {
  code: WeightsProblemCode;
  message: string;
}

/** Bytes read from the start of a file: enough for an LFS pointer (~130 B) or an HTML prologue. */
export const WEIGHTS_HEAD_BYTES = 1024;
/** Below this, a file cannot hold an ONNX graph: a truncated scrap, not weights. */
const MIN_WEIGHTS_BYTES = 16;

const LFS_SPEC = 'version https://git-lfs.github.com/spec/v1';

/**
 * First bytes an ONNX ModelProto can start with: the tag of one of its fields with the right wire
 * type (0x08 = ir_version, which every serialiser writes first). Text (`<`, `{`, `v`) never matches.
 */
const MODEL_PROTO_FIRST_BYTES = new Set([0x08, 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72, 0xa2, 0xca]);

/** Feeds a file into `hash` chunk by chunk, so a 100 MB model is never held in memory. */
export async function hashFileInto(hash: Hash, path: string): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/** Lowercase hex sha256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await hashFileInto(hash, path);
  return hash.digest('hex');
}

/** Reads up to `bytes` from the start of a file. */
export async function readHead(path: string, bytes = WEIGHTS_HEAD_BYTES): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await file.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/** A problem with the file at `path`, or null when it looks like an ONNX protobuf. */
export async function inspectWeights(path: string): Promise<WeightsProblem | null> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) return { code: 'missing', message: `${path} is not a file` };
    size = info.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { code: 'missing', message: `no file at ${path}` };
    throw error;
  }
  const problem = describeWeightsBytes(await readHead(path), size);
  return problem && { code: problem.code, message: `${path}: ${problem.message}` };
}

/**
 * What the first bytes of some would-be weights really are, or null when they look like ONNX.
 * `size` is the whole file's length (defaults to the head's, for data that is all here).
 */
export function describeWeightsBytes(head: Buffer, size: number = head.length): WeightsProblem | null {
  if (size === 0) return { code: 'empty', message: 'the file is empty (0 bytes), not a model' };
  const text = head.toString('utf8');
  if (text.startsWith(LFS_SPEC)) return { code: 'git_lfs_pointer', message: lfsPointerMessage(text) };
  if (/^\uFEFF?\s*<(?:!doctype\s+html|html)/i.test(text)) {
    return { code: 'html_page', message: 'this is an HTML page, not a model (a download that returned an error or login page)' };
  }
  if (size < MIN_WEIGHTS_BYTES) return { code: 'too_small', message: `only ${size} bytes, too small to be a model` };
  const first = head[0];
  if (first === undefined || !MODEL_PROTO_FIRST_BYTES.has(first)) {
    const shown = first === undefined ? 'nothing' : `0x${first.toString(16).padStart(2, '0')}`;
    return { code: 'not_onnx', message: `this does not look like an ONNX model (it starts with ${shown}, not a ModelProto field)` };
  }
  return null;
}

function lfsPointerMessage(pointer: string): string {
  const oid = /^oid (\S+)/m.exec(pointer)?.[1] ?? 'unknown';
  const size = /^size (\d+)/m.exec(pointer)?.[1];
  const what = size === undefined ? `oid ${oid}` : `oid ${oid}, size ${size} bytes`;
  return `this is a Git LFS pointer, not a model (${what}): run \`git lfs pull\` in the repository it came from, or fetch the real weights with \`npm run models -- pull <name>\``;
}
