export * from './drift-reference.store';
