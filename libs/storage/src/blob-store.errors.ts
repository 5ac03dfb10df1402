import { ErrorCode, FathomError } from '@fathom/contracts';

/** Seconds a client is told to wait when the object store is unavailable. */
export const BLOB_STORE_RETRY_AFTER_SECONDS = 2;

/**
 * The object store could not be used (unreachable, timed out, full, refused our credentials): to a
 * client that is 503 store_unavailable with Retry-After, to the worker a retryable attempt.
 */
export class BlobStoreUnavailableError extends FathomError {
  constructor(
    readonly operation: 'put' | 'get' | 'delete' | 'list',
    readonly key: string,
    cause: unknown,
  ) {
    super(
      ErrorCode.StoreUnavailable,
      `The object store is unavailable (${operation} failed: ${describe(cause)}). Retry later.`,
      undefined,
      BLOB_STORE_RETRY_AFTER_SECONDS,
      { cause },
    );
    this.name = 'BlobStoreUnavailableError';
  }
}

function describe(cause: unknown): string {
  if (typeof cause === 'object' && cause !== null) {
    const { code, name, message } = cause as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof code === 'string') return code;
    if (typeof name === 'string' && name !== 'Error') return name;
    if (typeof message === 'string') return message;
  }
  return String(cause);
}

/**
 * A streamed write went past its `maxBytes` and was dropped: a plain error, not a FathomError,
 * because what it means to a client (an image too large, a weights file too long) is the caller's.
 */
export class BlobTooLargeError extends Error {
  constructor(
    readonly key: string,
    readonly maxBytes: number,
  ) {
    super(`The object at ${key} is longer than ${maxBytes} bytes; nothing was written.`);
    this.name = 'BlobTooLargeError';
  }
}
