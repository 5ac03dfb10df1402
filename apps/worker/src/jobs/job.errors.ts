import { FathomError, formatFailureReason, type ErrorCode } from '@fathom/contracts';

/** A job's attempt failed for a reason Fathom knows, with whether another attempt could help. */
export class JobError extends FathomError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(code, message, undefined, undefined, options);
    this.name = 'JobError';
  }

  /** As BullMQ keeps it (the job's failedReason) and the API reads it back: `[code] message`. */
  get reason(): string {
    return formatFailureReason({ code: this.code, message: this.message });
  }
}

/** No attempt follows a failure that cannot be retried, nor the failure of the last attempt. */
export function isFinalFailure(error: unknown, lastAttempt: boolean): boolean {
  return lastAttempt || (error instanceof JobError && !error.retryable);
}
