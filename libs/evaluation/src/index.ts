export * from './types';
export * from './datasets';
export * from './builtin';
