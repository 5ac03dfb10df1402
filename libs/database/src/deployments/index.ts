export * from './deployment.store';
