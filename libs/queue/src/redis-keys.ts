/** Fathom's own Redis keys (BullMQ keeps its own under the same prefix). */
export function redisKeys(prefix: string) {
  return {
    jobRecord: (jobId: string) => `${prefix}:job:${jobId}`,
    idempotency: (keyHash: string) => `${prefix}:idempotency:${keyHash}`,
    workersIndex: `${prefix}:workers`,
    worker: (workerId: string) => `${prefix}:worker:${workerId}`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;
