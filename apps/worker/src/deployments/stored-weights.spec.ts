import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storedWeightsPath } from '@fathom/models';
import { FilesystemBlobStore } from '@fathom/storage';
import { buildDepthStandInModel } from '@fathom/testing';
import { fetchStoredWeights } from './stored-weights';

describe("a deployment's weights in the worker's model cache", () => {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-stored-weights-'));
  const blobs = new FilesystemBlobStore(join(dir, 'blobs'), 'fathom-test');
  const cacheDir = join(dir, 'cache');
  const model = buildDepthStandInModel();
  const sha256 = createHash('sha256').update(model).digest('hex');

  beforeAll(() => blobs.put(blobs.weightsKey(sha256), model));

  it('fetches them from the object store once, into <cache>/store/<sha256>.onnx, leaving no part file', async () => {
    const path = await fetchStoredWeights(blobs, cacheDir, sha256);
    expect(path).toBe(storedWeightsPath(cacheDir, sha256));
    expect(readFileSync(path)).toEqual(model);
    expect(readdirSync(join(cacheDir, 'store'))).toEqual([`${sha256}.onnx`]);
    // Present and verified: not fetched again (the store could be down).
    const written = statSync(path).mtimeMs;
    await blobs.delete(blobs.weightsKey(sha256));
    await expect(fetchStoredWeights(blobs, cacheDir, sha256)).resolves.toBe(path);
    expect(statSync(path).mtimeMs).toBe(written);
    await blobs.put(blobs.weightsKey(sha256), model);
  });

  it('replaces a cached file whose sha256 no longer matches (a truncated copy)', async () => {
    const path = storedWeightsPath(cacheDir, sha256);
    writeFileSync(path, model.subarray(0, 20));
    await fetchStoredWeights(blobs, cacheDir, sha256);
    expect(readFileSync(path)).toEqual(model);
  });

  it('says when the object store does not have them', async () => {
    const absent = 'f'.repeat(64);
    await expect(fetchStoredWeights(blobs, cacheDir, absent)).rejects.toThrow(
      `weights ${absent} are not in the object store (${blobs.weightsKey(absent)})`,
    );
  });
});
