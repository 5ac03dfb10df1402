export * from './api-key-token';
export * from './api-key.store';
export * from './api-key.verifier';
export * from './audit-log.store';
