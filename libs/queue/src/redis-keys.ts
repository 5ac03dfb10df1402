/** Fathom's own Redis keys (BullMQ keeps its own under the same prefix). */
export function redisKeys(prefix: string) {
  return {
    jobRecord: (jobId: string) => `${prefix}:job:${jobId}`,
    idempotency: (keyHash: string) => `${prefix}:idempotency:${keyHash}`,
    workersIndex: `${prefix}:workers`,
    worker: (workerId: string) => `${prefix}:worker:${workerId}`,
    /** Every model version and variant any worker has declared, served or not (hash by name@version#variant). */
    catalog: `${prefix}:catalog`,
    rollout: (model: string) => `${prefix}:rollout:${model}`,
    rolloutLog: (model: string) => `${prefix}:rollout-log:${model}`,
    /** Set while any client, on any API instance, is subscribed to the job's events. */
    watchedJob: (jobId: string) => `${prefix}:watched:${jobId}`,
    /** A key's jobs queued or running (sorted set of [queue, jobId] by admission time), for its quota. */
    inFlight: (keyId: string) => `${prefix}:in-flight:${keyId}`,
    /** Claimed by the one API instance that counts a job's end no client heard. */
    unheardEvent: (jobId: string, event: string) => `${prefix}:unheard:${jobId}:${event}`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;
