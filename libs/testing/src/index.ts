export * from './fixtures';
export * from './redis-server';
export * from './processes';
export * from './onnx-model.builder';
export * from './text-image';
export * from './onnx-run';
export * from './test-database';
export * from './key-slot';
