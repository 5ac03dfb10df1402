export * from './prediction.store';
export * from './prediction-writer';
