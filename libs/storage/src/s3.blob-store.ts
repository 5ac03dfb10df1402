import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import { BlobStore, isBlobKey, keySegments, type StreamedBlob } from './blob.store';
import { BlobStoreUnavailableError } from './blob-store.errors';
import { meteredSource } from './metered-source';

/** S3's smallest part: a streamed write holds one part (plus the one being sent) whatever the object's length. */
const STREAM_PART_BYTES = 5 * 1024 * 1024;

export interface S3BlobStoreSettings {
  bucket: string;
  /** An S3-compatible server's URL (MinIO); unset: AWS's endpoint for the region. */
  endpoint?: string;
  region: string;
  /** `http://host/bucket/key` instead of `http://bucket.host/key` (MinIO and most self-hosted servers). */
  forcePathStyle: boolean;
  /** Unset: the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance or pod role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** The most one request may take, connecting included; a store that does not answer is unavailable after it. */
  timeoutMs: number;
}

/**
 * Blobs as objects in one S3-compatible bucket. Expiry is the bucket's lifecycle rule (README,
 * "Object store"); deleteOlderThan lets the sweeper do it where no rule can be set.
 */
export class S3BlobStore extends BlobStore {
  readonly kind = 's3';
  private readonly client: S3Client;

  constructor(
    private readonly settings: S3BlobStoreSettings,
    prefix: string,
  ) {
    super(prefix);
    this.client = new S3Client({
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
      // One quick retry of a dropped connection; an outage is the caller's to retry (503, BullMQ backoff).
      maxAttempts: 2,
      requestHandler: { connectionTimeout: Math.min(settings.timeoutMs, 3_000), requestTimeout: settings.timeoutMs },
      // Checksums only where the API requires them: S3-compatible servers do not all know the newer ones.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async put(key: string, bytes: Buffer): Promise<void> {
    keySegments(key);
    try {
      // S3 writes an object whole or not at all.
      await this.client.send(new PutObjectCommand({ Bucket: this.settings.bucket, Key: key, Body: bytes }), this.deadline());
    } catch (error) {
      throw new BlobStoreUnavailableError('put', key, error);
    }
  }

  async putStream(key: string, source: Readable | AsyncIterable<Buffer>, options: { maxBytes: number }): Promise<StreamedBlob> {
    keySegments(key);
    const metered = meteredSource(key, source, options.maxBytes);
    // One part at a time: memory stays at about two parts. An object shorter than a part is one
    // PutObject; a longer one a multipart upload, which lib-storage aborts on any failure, so its
    // parts never become an object. Each request has the client's timeouts; the whole has none,
    // since a long source (a 2 GiB file) takes as long as its sender does.
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.settings.bucket, Key: key, Body: Readable.from(metered.chunks) },
      queueSize: 1,
      partSize: STREAM_PART_BYTES,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      throw metered.failure() ?? new BlobStoreUnavailableError('put', key, error);
    }
    return metered.result();
  }

  async get(key: string): Promise<Buffer | null> {
    // Not a key this store writes (a path escape, a pre-0012 Redis key): nothing is there.
    if (!isBlobKey(key)) return null;
    try {
      const signal = this.deadline();
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: key }), signal);
      if (!answer.Body) return Buffer.alloc(0);
      const bytes = await answer.Body.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      if ((error as { name?: unknown }).name === 'NoSuchKey') return null;
      throw new BlobStoreUnavailableError('get', key, error);
    }
  }

  async delete(key: string): Promise<void> {
    keySegments(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key }), this.deadline());
    } catch (error) {
      throw new BlobStoreUnavailableError('delete', key, error);
    }
  }

  async deleteOlderThan(cutoff: number): Promise<number> {
    let deleted = 0;
    try {
      for (const prefix of this.expiringPrefixes) {
        let token: string | undefined;
        do {
          const page: ListObjectsV2CommandOutput = await this.client.send(
            new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: prefix, ContinuationToken: token }),
            this.deadline(),
          );
          const old = (page.Contents ?? []).filter((o) => o.Key && o.LastModified && o.LastModified.getTime() < cutoff);
          for (const object of old) {
            await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: object.Key }), this.deadline());
            deleted++;
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
      }
    } catch (error) {
      throw new BlobStoreUnavailableError('list', this.prefix, error);
    }
    return deleted;
  }

  override async presignedGetUrl(
    key: string,
    seconds: number,
    response: { contentType: string; contentDisposition?: string },
  ): Promise<string | null> {
    if (!isBlobKey(key)) return null;
    try {
      // One HEAD, so that a result past its retention is 410 from the API, not a 404 from the bucket.
      await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: key }), this.deadline());
    } catch (error) {
      if ((error as { name?: unknown }).name === 'NotFound' || (error as { name?: unknown }).name === 'NoSuchKey') return null;
      throw new BlobStoreUnavailableError('get', key, error);
    }
    const command = new GetObjectCommand({
      Bucket: this.settings.bucket,
      Key: key,
      ResponseContentType: response.contentType,
      ...(response.contentDisposition ? { ResponseContentDisposition: response.contentDisposition } : {}),
    });
    return getSignedUrl(this.client, command, { expiresIn: seconds });
  }

  override async close(): Promise<void> {
    this.client.destroy();
  }

  /** The whole call's deadline (retries and reading the body included), beside the socket timeouts. */
  private deadline(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(this.settings.timeoutMs * 2) };
  }
}
