export * from './redis-connection';
export * from './redis-keys';
export * from './job-record.store';
export * from './idempotency.store';
export * from './worker-registry';
export * from './inference-queue';
export * from './rollout.store';
export * from './bullmq-layout';
