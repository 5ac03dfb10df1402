import { BlobStore } from './blob.store';
import { FilesystemBlobStore } from './filesystem.blob-store';
import { S3BlobStore, type S3BlobStoreSettings } from './s3.blob-store';

/** Which store a process uses, as @fathom/config's storageSettings reads it from STORAGE_*. */
export type BlobStoreSettings = { backend: 'filesystem'; dir: string } | ({ backend: 's3' } & S3BlobStoreSettings);

/** The configured store; `prefix` (REDIS_PREFIX) keeps deployments sharing one bucket or folder apart. */
export function createBlobStore(settings: BlobStoreSettings, prefix: string): BlobStore {
  return settings.backend === 'filesystem' ? new FilesystemBlobStore(settings.dir, prefix) : new S3BlobStore(settings, prefix);
}
