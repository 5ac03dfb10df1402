export * from './prediction-stream';
export * from './prediction-writer';
export * from './prediction-record';
