/**
 * Fathom's own Redis keys (BullMQ keeps its own under the same prefix). Redis Cluster puts a key in
 * the slot of its `{hash tag}` (ADR 0014): keys one command, MULTI or script touches together share
 * a tag (a worker's beat and the index, a model's rollout and its log, a job's audience keys), and
 * keys only ever touched alone have none, so they spread over the slots.
 */
export function redisKeys(prefix: string) {
  return {
    jobRecord: (jobId: string) => `${prefix}:job:${jobId}`,
    idempotency: (keyHash: string) => `${prefix}:idempotency:${keyHash}`,
    /** The index and every worker's beat share a slot: one MULTI registers a beat, one MGET reads them all. */
    workersIndex: `${prefix}:{workers}`,
    worker: (workerId: string) => `${prefix}:{workers}:${workerId}`,
    /** Every model version and variant any worker has declared, served or not (hash by name@version#variant). */
    catalog: `${prefix}:catalog`,
    /** A model's rollout and its log share a slot (one WATCH/MULTI writes both). */
    rollout: (model: string) => `${prefix}:rollout:{${model}}`,
    rolloutLog: (model: string) => `${prefix}:rollout-log:{${model}}`,
    /**
     * The deployments workers may load (hash by deployment id, written by the API from PostgreSQL)
     * and the stream that rings when it changes: one tag, so one MULTI writes both.
     */
    deployments: `${prefix}:{deployments}`,
    deploymentChanges: `${prefix}:{deployments}:changes`,
    /** Held (with a TTL, renewed) by the one API instance pulling a deployment's weights from their URL. */
    deploymentPull: (deploymentId: string) => `${prefix}:deployment-pull:${deploymentId}`,
    /** Held (with a TTL, renewed) by the one API instance scoring drift each round (ADR 0017). */
    driftMonitor: `${prefix}:drift-monitor`,
    /** Held (with a TTL, renewed) by the one API instance driving an evaluation run (ADR 0016). */
    evaluationLease: (evaluationId: string) => `${prefix}:evaluation-lease:${evaluationId}`,
    /** Where Fathom before the cluster layout kept a model's rollout: read when the tagged key is not there yet. */
    untaggedRollout: (model: string) => `${prefix}:rollout:${model}`,
    /** Set while any client, on any API instance, is subscribed to the job's events. */
    watchedJob: (jobId: string) => `${prefix}:watched:{${jobId}}`,
    /** A key's jobs queued or running (sorted set of [queue, jobId] by admission time), for its quota. */
    inFlight: (keyId: string) => `${prefix}:in-flight:${keyId}`,
    /**
     * The prediction log on its way to PostgreSQL (issue 15, ADR 0017): a stream of finished jobs'
     * records and the count of records dropped by its bound, one tag so one script writes both.
     */
    predictions: `${prefix}:{predictions}`,
    predictionsDropped: `${prefix}:{predictions}:dropped`,
    /** Claimed by the one API instance that counts a job's end no client heard (a script reads watchedJob with it). */
    unheardEvent: (jobId: string, event: string) => `${prefix}:unheard:{${jobId}}:${event}`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;
