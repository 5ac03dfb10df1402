import { ErrorCode } from '@fathom/contracts';

/** The one place an error code becomes an HTTP status. */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.InvalidRequest]: 400,
  [ErrorCode.MissingField]: 400,
  [ErrorCode.InvalidOptions]: 400,
  [ErrorCode.ImageTooLarge]: 413,
  [ErrorCode.ImageTooManyPixels]: 413,
  [ErrorCode.UnsupportedImageFormat]: 415,
  [ErrorCode.ImageUndecodable]: 415,
  [ErrorCode.JobNotFound]: 404,
  [ErrorCode.ModelNotFound]: 404,
  [ErrorCode.ArtifactNotFound]: 404,
  [ErrorCode.ModelNotServed]: 422,
  [ErrorCode.RouteNotFound]: 404,
  [ErrorCode.JobExpired]: 410,
  [ErrorCode.ResultNotReady]: 409,
  [ErrorCode.JobFailed]: 409,
  [ErrorCode.JobNotCancellable]: 409,
  [ErrorCode.IdempotencyKeyConflict]: 409,
  [ErrorCode.QueueFull]: 503,
  [ErrorCode.ServiceUnavailable]: 503,
  [ErrorCode.InputExpired]: 410,
  [ErrorCode.InferenceFailed]: 500,
  [ErrorCode.Internal]: 500,
};
