export * from './database';
export * from './database-errors';
export * from './embedded-postgres';
export * from './migrator';
export type { DatabaseSchema } from './schema';
export * from './keys';
export * from './deployments';
export * from './evaluations';
export * from './predictions';
