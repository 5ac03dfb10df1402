import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startS3Server, type S3ServerHandle } from '@fathom/testing';
import type { BlobStore } from './blob.store';
import { BlobStoreUnavailableError, BlobTooLargeError } from './blob-store.errors';
import { FilesystemBlobStore } from './filesystem.blob-store';
import { S3BlobStore } from './s3.blob-store';

/** One backend under test: how to make a store, make an object look old, and take the store away. */
interface Backend {
  store(prefix: string): BlobStore;
  /**
   * What a failed write left beside the objects (staging files), where the backend can tell: s3rver
   * implements neither ListMultipartUploads nor AbortMultipartUpload, so there only the object's
   * absence is checked (lib-storage aborts through the SDK; a bucket rule ends what it misses).
   */
  leftovers?(): Promise<string[]>;
  /** Makes the object look written `ageMs` ago, or says the backend cannot (S3 sets LastModified itself). */
  age?(store: BlobStore, key: string, ageMs: number): Promise<void>;
  outage(): Promise<{ store: BlobStore; end: () => Promise<void> }>;
  close(): Promise<void>;
}

async function filesystemBackend(): Promise<Backend> {
  const root = mkdtempSync(join(tmpdir(), 'fathom-blobs-'));
  return {
    store: (prefix) => new FilesystemBlobStore(root, prefix),
    leftovers: async () => readdirSync(join(root, '.staging')),
    age: async (_store, key, ageMs) => {
      const at = new Date(Date.now() - ageMs);
      await utimes(join(root, ...key.split('/')), at, at);
    },
    // A folder that cannot be written: a file stands where the store's root should be.
    outage: async () => {
      const blocked = join(root, 'not-a-folder');
      writeFileSync(blocked, 'x');
      return { store: new FilesystemBlobStore(blocked, 'fathom'), end: async () => undefined };
    },
    close: () => rm(root, { recursive: true, force: true }),
  };
}

async function s3Backend(): Promise<Backend> {
  const server: S3ServerHandle = await startS3Server();
  const stores: BlobStore[] = [];
  const store = (prefix: string) => {
    const s = new S3BlobStore(
      {
        bucket: server.bucket,
        endpoint: server.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
        timeoutMs: 2_000,
      },
      prefix,
    );
    stores.push(s);
    return s;
  };
  return {
    store,
    outage: async () => {
      await server.stop();
      return { store: store('fathom'), end: () => server.restart() };
    },
    close: async () => {
      await Promise.all(stores.map((s) => s.close()));
      await server.remove();
    },
  };
}

describe.each([
  ['filesystem', filesystemBackend],
  ['s3 (s3rver over HTTP)', s3Backend],
])('the %s blob store', (_name, makeBackend) => {
  let backend: Backend;
  let blobs: BlobStore;

  beforeAll(async () => {
    backend = await makeBackend();
    blobs = backend.store('fathom');
  });
  afterAll(() => backend.close());

  it('gives back the bytes it was given, and null for a key never written', async () => {
    const bytes = randomBytes(1000);
    await blobs.put(blobs.inputKey('job-1'), bytes);
    expect(await blobs.get(blobs.inputKey('job-1'))).toEqual(bytes);
    expect(await blobs.get(blobs.inputKey('job-never'))).toBeNull();
    expect(await blobs.get(blobs.resultKey('job-never', 'depth'))).toBeNull();
  });

  it('replaces an object whole when it is written again', async () => {
    const key = blobs.resultKey('job-2', 'depth');
    await blobs.put(key, Buffer.alloc(5000, 1));
    await blobs.put(key, Buffer.from('short'));
    expect((await blobs.get(key))?.toString()).toBe('short');
  });

  it('deletes an object, and deleting one that is not there is no error', async () => {
    const key = blobs.inputKey('job-3');
    await blobs.put(key, Buffer.from('x'));
    await blobs.delete(key);
    expect(await blobs.get(key)).toBeNull();
    await expect(blobs.delete(key)).resolves.toBeUndefined();
  });

  it('keeps a 30 MB upload byte for byte', async () => {
    const bytes = randomBytes(30 * 1024 * 1024);
    await blobs.put(blobs.inputKey('job-large'), bytes);
    expect((await blobs.get(blobs.inputKey('job-large')))?.equals(bytes)).toBe(true);
  });

  describe('streamed writes', () => {
    const MiB = 1024 * 1024;
    /** `bytes` in 64 KiB chunks, as a socket would hand them over; `failAt`: throw once that many are sent. */
    async function* chunksOf(bytes: Buffer, failAt = Infinity): AsyncGenerator<Buffer> {
      for (let at = 0; at < bytes.length; at += 64 * 1024) {
        if (at >= failAt) throw new Error('the client went away');
        yield bytes.subarray(at, at + 64 * 1024);
      }
    }
    const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

    it('keeps a 12 MB stream byte for byte (more than one S3 part) and says its length and SHA-256', async () => {
      const bytes = randomBytes(12 * MiB + 123);
      const key = blobs.inputKey('job-streamed');
      const written = await blobs.putStream(key, Readable.from(chunksOf(bytes)), { maxBytes: 25 * MiB });
      expect(written).toEqual({ bytes: bytes.length, sha256: sha256(bytes) });
      expect((await blobs.get(key))?.equals(bytes)).toBe(true);
    });

    it('keeps a short stream, and an empty one, whole', async () => {
      const key = blobs.inputKey('job-streamed-short');
      expect(await blobs.putStream(key, chunksOf(Buffer.from('short')), { maxBytes: 10 })).toEqual({
        bytes: 5,
        sha256: sha256(Buffer.from('short')),
      });
      expect((await blobs.get(key))?.toString()).toBe('short');
      const empty = blobs.inputKey('job-streamed-empty');
      expect(await blobs.putStream(empty, chunksOf(Buffer.alloc(0)), { maxBytes: 10 })).toEqual({
        bytes: 0,
        sha256: sha256(Buffer.alloc(0)),
      });
      expect(await blobs.get(empty)).toEqual(Buffer.alloc(0));
    });

    it.each([
      ['within the first part', 1 * MiB],
      ['after a whole S3 part was sent', 7 * MiB],
    ])('fails with the source’s own error when it breaks %s, and leaves nothing', async (_when, failAt) => {
      const key = blobs.inputKey('job-broken-stream');
      const failure = await blobs.putStream(key, chunksOf(randomBytes(12 * MiB), failAt), { maxBytes: 25 * MiB }).catch((e: unknown) => e);
      expect(failure).toMatchObject({ message: 'the client went away' });
      expect(await blobs.get(key)).toBeNull();
      if (backend.leftovers) expect(await backend.leftovers()).toEqual([]);
    });

    it('refuses a stream longer than maxBytes, leaving nothing, and keeps what was there before', async () => {
      const key = blobs.inputKey('job-too-long');
      const failure = await blobs.putStream(key, chunksOf(randomBytes(8 * MiB)), { maxBytes: 6 * MiB }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(BlobTooLargeError);
      expect(failure).toMatchObject({ maxBytes: 6 * MiB });
      expect(await blobs.get(key)).toBeNull();
      await blobs.put(key, Buffer.from('before'));
      await expect(blobs.putStream(key, chunksOf(randomBytes(100)), { maxBytes: 99 })).rejects.toBeInstanceOf(BlobTooLargeError);
      expect((await blobs.get(key))?.toString()).toBe('before');
      if (backend.leftovers) expect(await backend.leftovers()).toEqual([]);
    });
  });

  it('keeps two deployments sharing the store apart by prefix', async () => {
    const other = backend.store('other');
    await other.put(other.inputKey('job-4'), Buffer.from('theirs'));
    expect(await blobs.get(blobs.inputKey('job-4'))).toBeNull();
    expect((await other.get(other.inputKey('job-4')))?.toString()).toBe('theirs');
  });

  it('refuses to write at a key that could leave its place, and finds nothing there or at a Redis-era key', async () => {
    await expect(blobs.put('fathom/../../etc/passwd', Buffer.from('x'))).rejects.toThrow(/Not a blob key/);
    expect(await blobs.get('fathom/../../etc/passwd')).toBeNull();
    expect(await blobs.get('/etc/passwd')).toBeNull();
    // A job queued before the object store names its input so: it reads as expired, not as an outage.
    expect(await blobs.get('fathom:blob:input:job-1')).toBeNull();
  });

  it("deletes a job's bytes older than the cutoff and keeps the rest, and never a deployment's weights or a dataset's files", async () => {
    const sweptStore = backend.store('swept');
    const [old, fresh] = [sweptStore.resultKey('job-old', 'depth'), sweptStore.inputKey('job-fresh')];
    const weights = sweptStore.weightsKey('a'.repeat(64));
    const datasetFile = sweptStore.datasetKey('dataset-1', 'images/0001.png');
    await Promise.all([
      sweptStore.put(old, Buffer.from('old')),
      sweptStore.put(fresh, Buffer.from('fresh')),
      sweptStore.put(weights, Buffer.from('onnx')),
      sweptStore.put(datasetFile, Buffer.from('png')),
    ]);
    if (backend.age) {
      await backend.age(sweptStore, old, 2 * 86_400_000);
      await backend.age(sweptStore, weights, 30 * 86_400_000);
      await backend.age(sweptStore, datasetFile, 30 * 86_400_000);
      expect(await sweptStore.deleteOlderThan(Date.now() - 86_400_000)).toBe(1);
      expect(await sweptStore.get(old)).toBeNull();
      expect((await sweptStore.get(fresh))?.toString()).toBe('fresh');
    } else {
      // LastModified is the server's: nothing is older than a cutoff an hour ago, both are older than one a minute ahead.
      expect(await sweptStore.deleteOlderThan(Date.now() - 3_600_000)).toBe(0);
      expect(await sweptStore.deleteOlderThan(Date.now() + 60_000)).toBe(2);
      expect(await sweptStore.get(fresh)).toBeNull();
    }
    expect((await sweptStore.get(weights))?.toString()).toBe('onnx');
    expect((await sweptStore.get(datasetFile))?.toString()).toBe('png');
    expect(await blobs.get(blobs.inputKey('job-1'))).not.toBeNull(); // another prefix: untouched
  });

  it("keeps a dataset's files at one key per path, whatever characters the path holds", async () => {
    const paths = ['images/0001.png', 'my images/été 1.png', '_x41', 'A', 'images/../x.png'];
    const keys = paths.map((path) => blobs.datasetKey('dataset-2', path));
    const hex = (name: string) => `_x${Buffer.from(name, 'utf8').toString('hex')}`;
    expect(keys.slice(0, 3)).toEqual([
      'fathom/dataset/dataset-2/images/0001.png',
      `fathom/dataset/dataset-2/${hex('my images')}/${hex('été 1.png')}`,
      `fathom/dataset/dataset-2/${hex('_x41')}`,
    ]);
    expect(new Set(keys).size).toBe(paths.length);
    await Promise.all(keys.map((key, i) => blobs.put(key, Buffer.from(`file ${i}`))));
    for (const [i, key] of keys.entries()) expect((await blobs.get(key))?.toString()).toBe(`file ${i}`);
    expect(blobs.expiringPrefixes.some((prefix) => keys[0]!.startsWith(prefix))).toBe(false);
  });

  it('says store_unavailable (503, retry later) when the store cannot be used, and works again after', async () => {
    const { store, end } = await backend.outage();
    const failures = await Promise.all([
      store.put(store.inputKey('job-5'), Buffer.from('x')).catch((e: unknown) => e),
      store.putStream(store.inputKey('job-6'), Readable.from([randomBytes(1000)]), { maxBytes: 2000 }).catch((e: unknown) => e),
      store.get(store.inputKey('job-1')).catch((e: unknown) => e),
    ]);
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(BlobStoreUnavailableError);
      expect(failure).toMatchObject({ code: 'store_unavailable', retryAfterSeconds: expect.any(Number) });
    }
    await end();
    expect(await blobs.get(blobs.inputKey('job-1'))).not.toBeNull();
  });
});
