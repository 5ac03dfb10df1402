import { ErrorCode, FathomError } from '@fathom/contracts';

/**
 * Seconds a client is told to wait when Redis is unavailable: connections retry every
 * MAX_RECONNECT_DELAY_MS (1 s) at most, so Redis is used again within about a second of coming back.
 */
export const STORE_RETRY_AFTER_SECONDS = 1;

/** Network errors of a socket to Redis. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** What ioredis and BullMQ say when a command cannot reach Redis or gets no answer in time. */
const CLIENT_MESSAGES = [
  /^Command timed out$/,
  /^Connection is closed\.?$/,
  /^Stream isn't writeable/,
  /^Reached the max retries per request limit/,
  /^connect ETIMEDOUT$/,
  /^Socket closed unexpectedly/,
  // ioredis Cluster: a slot whose master is gone, or no node reachable at all.
  /^Too many Cluster redirections/,
  /^Cluster isn't ready/,
  /^Failed to refresh slots cache/,
  /^None of startup nodes is available/,
];

/**
 * Redis answers that mean "not now" rather than "wrong request": loading its AOF after a restart,
 * busy with a script, a replica without its master, or the password refused (a deployment problem
 * the operator must fix; to a client it is the store being unavailable, not its own fault).
 */
const SERVER_REPLIES = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|MOVED|ASK|READONLY|NOAUTH|WRONGPASS)\b/;

/** True when `error` (or an error it wraps) says Redis could not be reached or did not answer in time. */
export function isStoreUnavailableError(error: unknown): boolean {
  // Duck-typed, not `instanceof Error`: errors from Node's core and from another realm count too.
  for (let e = asErrorLike(error), depth = 0; e && depth < 5; e = asErrorLike(e.cause), depth++) {
    if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
    if (e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError') return true;
    if (CLIENT_MESSAGES.some((pattern) => pattern.test(e.message))) return true;
    if (SERVER_REPLIES.test(e.message)) return true;
    if (Array.isArray(e.errors) && e.errors.some((inner) => isStoreUnavailableError(inner))) return true;
  }
  return false;
}

interface ErrorLike {
  message: string;
  name?: unknown;
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
}

function asErrorLike(value: unknown): ErrorLike | undefined {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string'
    ? (value as ErrorLike)
    : undefined;
}

/**
 * The one translation of a Redis failure into Fathom's error: 503 store_unavailable with
 * Retry-After. A FathomError that already says something else specific is kept; one that only
 * says "unavailable" or "internal" and was caused by Redis becomes store_unavailable.
 */
export function asStoreUnavailable(error: unknown): FathomError | undefined {
  // Already said by a store (the object store's BlobStoreUnavailableError), perhaps wrapped: kept, with its own words.
  const said = storeUnavailableCause(error);
  if (said) return said;
  if (error instanceof FathomError) {
    if (error.code === ErrorCode.StoreUnavailable) return error;
    if (error.code !== ErrorCode.ServiceUnavailable && error.code !== ErrorCode.Internal) return undefined;
    if (!isStoreUnavailableError(error.cause)) return undefined;
  } else if (!isStoreUnavailableError(error)) {
    return undefined;
  }
  return new FathomError(
    ErrorCode.StoreUnavailable,
    'The job store (Redis) is unavailable. Retry later.',
    undefined,
    STORE_RETRY_AFTER_SECONDS,
    { cause: error },
  );
}

/** The first store_unavailable FathomError in the error's cause chain. */
function storeUnavailableCause(error: unknown): FathomError | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof FathomError && e.code === ErrorCode.StoreUnavailable) return e;
  }
  return undefined;
}
