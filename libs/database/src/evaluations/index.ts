export * from './dataset.store';
export * from './evaluation.store';
export * from './promotion-gate.store';
