export * from './weights-check';
export * from './weights-download';
export * from './download-progress';
