export * from './model-spec';
export * from './manifest.schema';
export * from './task-defaults';
export * from './model-catalog';
export * from './weights';
export * from './version-order';
export * from './known-models';
