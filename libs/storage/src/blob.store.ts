import type { Readable } from 'node:stream';

/** What putStream wrote: its length and SHA-256 (hex), counted as the bytes went by. */
export interface StreamedBlob {
  bytes: number;
  sha256: string;
}

/**
 * Inputs and results, by key, in an object store (docs/adr/0012-object-store-for-bytes.md): a
 * folder (FilesystemBlobStore) or an S3-compatible bucket (S3BlobStore). Keys are the store's
 * own: `<prefix>/input/<job>` and `<prefix>/result/<job>/<artifact>`, safe as relative paths.
 * Every method throws BlobStoreUnavailableError when the store cannot be used (503 in the API, a
 * retried attempt in the worker); a missing object is null, never an error.
 */
export abstract class BlobStore {
  constructor(protected readonly prefix: string) {}

  /** Which backend this is, for logs and /readyz. */
  abstract readonly kind: 'filesystem' | 's3';

  inputKey(jobId: string): string {
    return `${this.prefix}/input/${jobId}`;
  }

  resultKey(jobId: string, artifact: string): string {
    return `${this.prefix}/result/${jobId}/${artifact}`;
  }

  /** A deployment's weights, content-addressed (ADR 0015): kept until no deployment needs them, never swept. */
  weightsKey(sha256: string): string {
    return `${this.prefix}/weights/${sha256}`;
  }

  /** An evaluation's stored results (report.html, samples.jsonl, evaluation.json; ADR 0016): kept, never swept. */
  reportKey(evaluationId: string, file: string): string {
    return `${this.prefix}/reports/${evaluationId}/${file}`;
  }

  /**
   * A registered dataset's file (issue 14): kept as long as its row, never swept. `path` is the
   * file's path in the dataset, `/`-separated; each folder or file name a key segment may not hold
   * (spaces, other characters, a name starting with `_x`) is written as `_x` and its UTF-8 in hex,
   * so any path in the dataset has one key and no two paths share one.
   */
  datasetKey(datasetId: string, path: string): string {
    return `${this.datasetPrefix(datasetId)}${path.split('/').map(datasetKeySegment).join('/')}`;
  }

  /** Where a dataset's files are (`datasets.store_prefix`). */
  datasetPrefix(datasetId: string): string {
    return `${this.prefix}/dataset/${datasetId}/`;
  }

  /** The folders retention applies to (the sweeper, the bucket's lifecycle rule): a job's bytes, never weights. */
  get expiringPrefixes(): string[] {
    return [`${this.prefix}/input/`, `${this.prefix}/result/`];
  }

  /** Writes the whole object or nothing: a reader never sees half of it. */
  abstract put(key: string, bytes: Buffer): Promise<void>;

  /**
   * Writes what `source` yields, whole or nothing, holding a bounded amount in memory whatever its
   * length (a chunk or two on disk, an S3 part). Past `maxBytes` it stops with BlobTooLargeError;
   * a source that fails fails the write with the source's own error; either way nothing is left
   * at `key` (a replaced object keeps its old bytes). The store failing is BlobStoreUnavailableError.
   */
  abstract putStream(key: string, source: Readable | AsyncIterable<Buffer>, options: { maxBytes: number }): Promise<StreamedBlob>;

  /** The bytes, or null when they expired or never existed. */
  abstract get(key: string): Promise<Buffer | null>;

  /** Removes the object; one that is not there is no error. */
  abstract delete(key: string): Promise<void>;

  /** Deletes the objects under expiringPrefixes written before `cutoff` (epoch ms); how many went. */
  abstract deleteOlderThan(cutoff: number): Promise<number>;

  /**
   * A URL a client may GET the object from for `seconds`, or null where the backend has none (a
   * folder). Unchecked: null too when the object is not there, so an expired result stays 410.
   */
  async presignedGetUrl(
    _key: string,
    _seconds: number,
    _response: { contentType: string; contentDisposition?: string },
  ): Promise<string | null> {
    return null;
  }

  async close(): Promise<void> {}
}

/** Key segments: letters, digits, `.`, `_`, `-` (job ids, artifact names, the Redis prefix); never `.` or `..`. */
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** Whether this store could hold `key`: a job queued before ADR 0012 names a Redis blob (`fathom:blob:input:<id>`), which it cannot. */
export function isBlobKey(key: string): boolean {
  const segments = key.split('/');
  return segments.length >= 2 && segments.every((s) => SEGMENT.test(s) && s !== '..');
}

function datasetKeySegment(name: string): string {
  return SEGMENT.test(name) && !name.startsWith('_x') ? name : `_x${Buffer.from(name, 'utf8').toString('hex')}`;
}

/** The key's segments, or a thrown Error for a key no caller of ours builds (a path escape, an odd character). */
export function keySegments(key: string): string[] {
  if (!isBlobKey(key)) throw new Error(`Not a blob key: ${JSON.stringify(key)}`);
  return key.split('/');
}
