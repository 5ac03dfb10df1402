import { ErrorCode, FathomError } from '@fathom/contracts';

/**
 * True when a database error means the database could not be reached or did not answer in time
 * (refused or broken connections, timeouts, a server shutting down), so the request may succeed
 * if retried later — as opposed to an error in the statement itself.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  // Duck-typed, not `instanceof Error`: Node's socket errors may come from another realm.
  if (typeof error !== 'object' || error === null || typeof (error as { message?: unknown }).message !== 'string') return false;
  const { code, message } = error as { code?: unknown; message: string };
  if (typeof code === 'string') {
    // Node's socket errors, and PostgreSQL's classes 08 (connection), 57P0x (shutdown), 53 (resources).
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
    if (/^(08|53|57P0)/.test(code) || code === '57014' /* statement timeout */) return true;
  }
  return /timeout exceeded when trying to connect|Connection terminated|Query read timeout|connection timeout/i.test(message);
}

/** Seconds a client is told to wait when the database is unavailable. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/**
 * Runs a database call and turns "the database is unreachable or too slow" into Fathom's error
 * (503 store_unavailable with Retry-After); errors of the statement itself pass through. Every
 * store over the database goes through it, so no route answers a database outage with a 500.
 */
export async function withDatabase<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isDatabaseUnavailable(error)) throw error;
    throw new FathomError(
      ErrorCode.StoreUnavailable,
      'The database (PostgreSQL) is unavailable. Retry later.',
      undefined,
      DATABASE_RETRY_AFTER_SECONDS,
      { cause: error },
    );
  }
}
