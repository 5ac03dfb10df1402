export * from './types';
export * from './metrics';
export * from './report';
export * from './datasets';
export * from './builtin';
