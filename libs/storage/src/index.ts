export * from './blob.store';
