import { z } from 'zod';

/**
 * Stable error codes a client may branch on. Adding one is fine; renaming one breaks clients.
 * The API maps each to an HTTP status in one place (apps/api/src/common/error-status.ts).
 */
export const ErrorCode = {
  // request shape
  InvalidRequest: 'invalid_request',
  MissingField: 'missing_field',
  InvalidOptions: 'invalid_options',
  /** The upload form has more fields than it takes (model, variant, options). */
  TooManyFields: 'too_many_fields',
  /** The upload form has more than its one file (`image`). */
  TooManyFiles: 'too_many_files',
  /** The `options` field is longer than the form's field limit. */
  OptionsTooLarge: 'options_too_large',
  /** A JSON request body over the body limit. */
  BodyTooLarge: 'body_too_large',
  /** A job id that cannot be one (longer than ids are). */
  InvalidJobId: 'invalid_job_id',
  /** The client took longer than the server's limit to send its request. */
  RequestTimeout: 'request_timeout',
  /** The request's headers are larger than the server reads. */
  HeadersTooLarge: 'headers_too_large',
  // the upload itself
  ImageTooLarge: 'image_too_large',
  ImageTooManyPixels: 'image_too_many_pixels',
  UnsupportedImageFormat: 'unsupported_image_format',
  ImageUndecodable: 'image_undecodable',
  // resources
  JobNotFound: 'job_not_found',
  ModelNotFound: 'model_not_found',
  ArtifactNotFound: 'artifact_not_found',
  RouteNotFound: 'route_not_found',
  JobExpired: 'job_expired',
  /** The model is known, but no live worker serves that version or variant now. */
  ModelNotServed: 'model_not_served',
  // keys and scopes
  /** No API key, or one that is unknown or revoked: send `Authorization: Bearer <key>`. */
  Unauthorized: 'unauthorized',
  /** The key is valid but lacks the scope the route needs (jobs:write, jobs:read, models:admin, keys:admin). */
  Forbidden: 'forbidden',
  KeyNotFound: 'key_not_found',
  // admin API
  /** No longer sent (the admin API's own keys became API keys with scopes, 403 forbidden); kept so clients that branch on it still compile. */
  AdminDisabled: 'admin_disabled',
  RolloutConflict: 'rollout_conflict',
  // deployments (POST/PUT/DELETE /v1/admin/models)
  /** A manifest that libs/models' schema refuses, or a field REST registration does not take (a server path, an npm module). */
  InvalidManifest: 'invalid_manifest',
  /** Uploaded weights over API_MAX_WEIGHTS_BYTES. */
  WeightsTooLarge: 'weights_too_large',
  /** That name@version is registered and not retired: a new version needs a new version string. */
  DeploymentExists: 'deployment_exists',
  DeploymentNotFound: 'deployment_not_found',
  /** An alias (stable, canary) points at the version: move the alias first. */
  DeploymentInUse: 'deployment_in_use',
  // datasets and evaluations (issue 14)
  /** A dataset archive or manifest that cannot be used: the message names the file and the field. */
  InvalidDataset: 'invalid_dataset',
  /** A dataset archive over API_MAX_DATASET_BYTES. */
  DatasetTooLarge: 'dataset_too_large',
  DatasetNotFound: 'dataset_not_found',
  /** That dataset name@version is registered already: a changed dataset needs a new version. */
  DatasetExists: 'dataset_exists',
  EvaluationNotFound: 'evaluation_not_found',
  /** The evaluation has not completed (running, failed or cancelled): its report or comparison is not there. */
  EvaluationNotFinished: 'evaluation_not_finished',
  /** The model's promotion gate found the canary worse than stable beyond its margin: the figures are in details. */
  PromotionRefused: 'promotion_refused',
  /** The promotion gate's evaluations are still running: promote again when they end (their progress is in details). */
  PromotionPending: 'promotion_pending',
  // drift (issue 15)
  /** The source picked too few completed predictions with features for a reference profile: details say how many, and how many it needs. */
  ReferenceTooSmall: 'reference_too_small',
  DriftReferenceNotFound: 'drift_reference_not_found',
  // conflicts
  ResultNotReady: 'result_not_ready',
  JobFailed: 'job_failed',
  JobNotCancellable: 'job_not_cancellable',
  IdempotencyKeyConflict: 'idempotency_key_conflict',
  // capacity
  QueueFull: 'queue_full',
  /** The key (or, without keys, the client address) sent more requests per second than its limit; see Retry-After. */
  RateLimited: 'rate_limited',
  /** The key has as many jobs queued or running as its quota allows; submit again when one ends (see Retry-After). */
  QuotaExceeded: 'quota_exceeded',
  /** A socket is subscribed to API_SOCKET_MAX_SUBSCRIPTIONS jobs already; unsubscribe from one first. */
  SubscriptionLimit: 'subscription_limit',
  ServiceUnavailable: 'service_unavailable',
  /** Redis (queues, job records, blobs) did not answer in time or could not be reached; retry later. */
  StoreUnavailable: 'store_unavailable',
  /**
   * The job has finished but its prediction-log record has not reached PostgreSQL yet (the log runs
   * seconds behind, longer after an outage): send the feedback again after Retry-After.
   */
  PredictionNotLogged: 'prediction_not_logged',
  // job failures reported by workers
  InputExpired: 'input_expired',
  InferenceFailed: 'inference_failed',
  /** The job's worker died while running it (SIGKILL, out of memory) more times than WORKER_MAX_STALLED_COUNT allows. */
  WorkerLost: 'worker_lost',
  /** The client's deadline (`deadline` / X-Deadline) passed while the job was still queued: it was dropped before inference. */
  DeadlineExceeded: 'deadline_exceeded',
  /** The job's model version was retired with ?drain=false while the job waited. */
  ModelRetired: 'model_retired',
  /** A stage of the job (decode, inference, encode) ran past the worker's per-stage limit, on every attempt. */
  InferenceTimeout: 'inference_timeout',
  Internal: 'internal_error',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const errorCodeSchema = z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]);

/** What every error response body looks like. */
export const errorBodySchema = z.object({
  error: z.object({
    code: errorCodeSchema,
    message: z.string(),
    details: z.unknown().optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

export const jobFailureSchema = z.object({ code: errorCodeSchema, message: z.string() });
export type JobFailure = z.infer<typeof jobFailureSchema>;

/**
 * BullMQ keeps only a failure's message (`failedReason`). Workers write `[code] message` so the
 * code survives the trip; anything else is an unexpected error whose text is not shown to clients.
 */
export function formatFailureReason(failure: JobFailure): string {
  return `[${failure.code}] ${failure.message}`;
}

export function parseFailureReason(reason: string | undefined): JobFailure {
  const match = /^\[([a-z_]+)\] ([\s\S]*)$/.exec(reason ?? '');
  const parsed = match && errorCodeSchema.safeParse(match[1]);
  if (match && parsed?.success) return { code: parsed.data, message: match[2] ?? '' };
  return { code: ErrorCode.Internal, message: 'The job failed because of an internal error.' };
}
