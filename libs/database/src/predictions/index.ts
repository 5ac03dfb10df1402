export * from './prediction.store';
