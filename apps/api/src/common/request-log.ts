import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PinoLogger } from 'nestjs-pino';

/**
 * pino-http's request line for answers of 500 and above carries an `err` it makes itself ("failed
 * with status code 503") with its stack. A 503 is a refusal (queue full, store unavailable: the
 * client is told to come back after Retry-After), not an error: one short line, no stack. Real
 * errors behind a 500 are logged, with their own stack, by the exception filter.
 */
export const requestLogOptions = {
  /** The request's key id, on its request line (the other lines get it from bindKeyIdToRequestLog). */
  customProps: (req: IncomingMessage) => {
    const keyId = (req as KeyedRequest)[KEY_ID];
    return keyId === undefined ? {} : { keyId };
  },
  customErrorMessage: (_req: IncomingMessage, res: ServerResponse) => (res.statusCode === 503 ? 'request refused' : 'request errored'),
  customErrorObject: (_req: IncomingMessage, res: ServerResponse, _error: Error, value: Record<string, unknown>) =>
    res.statusCode === 503 ? { res: value.res, responseTime: value.responseTime } : value,
};

const KEY_ID = Symbol('fathom.keyId');
type KeyedRequest = IncomingMessage & { [KEY_ID]?: string };

/**
 * Puts the key's id (never its secret) on every log line of the request from now on: the
 * request-scoped logger nestjs-pino keeps for it, and the request line written when it ends.
 */
export function bindKeyIdToRequestLog(logger: PinoLogger, req: IncomingMessage, keyId: string): void {
  (req as KeyedRequest)[KEY_ID] = keyId;
  try {
    logger.assign({ keyId });
  } catch {
    // Outside a request's logging context (nestjs-pino's middleware did not run): the request line still has it.
  }
}
