import type { ErrorCode } from './error-codes';

/**
 * An error a client is meant to see, carrying a stable code. Libraries and workers throw it; the
 * API maps the code to an HTTP status in one filter, the worker maps it to retry-or-give-up.
 */
export class FathomError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Seconds a client should wait before retrying (429/503 answers). */
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FathomError';
  }
}
