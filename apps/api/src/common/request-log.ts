import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * pino-http's request line for answers of 500 and above carries an `err` it makes itself ("failed
 * with status code 503") with its stack. A 503 is a refusal (queue full, store unavailable: the
 * client is told to come back after Retry-After), not an error: one short line, no stack. Real
 * errors behind a 500 are logged, with their own stack, by the exception filter.
 */
export const requestLogOptions = {
  customErrorMessage: (_req: IncomingMessage, res: ServerResponse) => (res.statusCode === 503 ? 'request refused' : 'request errored'),
  customErrorObject: (_req: IncomingMessage, res: ServerResponse, _error: Error, value: Record<string, unknown>) =>
    res.statusCode === 503 ? { res: value.res, responseTime: value.responseTime } : value,
};
