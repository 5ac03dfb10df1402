import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { inspectWeights, sha256File, storedWeightsPath } from '@fathom/models';
import type { BlobStore } from '@fathom/storage';

/** Weights that cannot be used: missing from the store, another file than the one registered, not an ONNX model. */
export class StoredWeightsError extends Error {}

/**
 * Puts a deployment's weights in this worker's model cache (`<cache>/store/<sha256>.onnx`) and
 * returns the path: a file already there is reused when its sha256 verifies, else the bytes are
 * fetched from the object store (weightsKey), verified, and written under a temporary name then
 * renamed, so a reader never sees half a file. A file that is a Git LFS pointer or a web page is
 * refused with what it is.
 */
export async function fetchStoredWeights(blobs: BlobStore, cacheDir: string, sha256: string): Promise<string> {
  const path = storedWeightsPath(cacheDir, sha256);
  const present = await stat(path).then(
    (info) => info.isFile(),
    () => false,
  );
  if (!present || (await sha256File(path)) !== sha256) {
    const bytes = await blobs.get(blobs.weightsKey(sha256));
    if (bytes === null) throw new StoredWeightsError(`weights ${sha256} are not in the object store (${blobs.weightsKey(sha256)})`);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== sha256) {
      throw new StoredWeightsError(
        `sha256 mismatch: the deployment expects ${sha256}, the object store's ${blobs.weightsKey(sha256)} (${bytes.length} bytes) hashes to ${actual}`,
      );
    }
    await mkdir(dirname(path), { recursive: true });
    const part = `${path}.${randomUUID()}.part`;
    try {
      await writeFile(part, bytes);
      await rename(part, path);
    } finally {
      await rm(part, { force: true });
    }
  }
  const problem = await inspectWeights(path);
  if (problem) throw new StoredWeightsError(`weights ${problem.message}`);
  return path;
}
