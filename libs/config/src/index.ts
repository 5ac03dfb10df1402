export * from './load-config';
export * from './env-values';
export * from './env-schemas';
export * from './renamed-variables';
export * from './redact';
