export * from './blob.store';
export * from './blob-store.errors';
export * from './filesystem.blob-store';
export * from './s3.blob-store';
export * from './create-blob-store';
export * from './blob.sweeper';
