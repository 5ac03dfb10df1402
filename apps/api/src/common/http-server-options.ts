import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, FathomError } from '@fathom/contracts';
import type { ApiConfig } from '../config/api.config';
import { mapError, sendMapped, type MappedError } from './api-exception.filter';
import { JSON_BODY_LIMIT_BYTES, MAX_PATH_PARAM_LENGTH } from './http-limits';
/** Node's default largest header block (http.maxHeaderSize). */
const MAX_HEADER_BYTES = 16 * 1024;

export type ServerTimeouts = Pick<
  ApiConfig,
  'API_HEADERS_TIMEOUT_MS' | 'API_REQUEST_TIMEOUT_MS' | 'API_CONNECTION_TIMEOUT_MS' | 'API_KEEP_ALIVE_TIMEOUT_MS'
>;

/**
 * Fastify's server options: the timeouts that cut slow clients off, and the errors Fastify and
 * Node answer before any route runs (a path parameter over the limit, a bad URL, a request that
 * took too long) in the documented `{ error: { code, message } }` shape.
 */
export function httpServerOptions(config: ServerTimeouts) {
  const requestTimeout = config.API_REQUEST_TIMEOUT_MS;
  const headersTimeout = config.API_HEADERS_TIMEOUT_MS;
  return {
    bodyLimit: JSON_BODY_LIMIT_BYTES,
    trustProxy: true,
    requestTimeout,
    connectionTimeout: config.API_CONNECTION_TIMEOUT_MS,
    keepAliveTimeout: config.API_KEEP_ALIVE_TIMEOUT_MS,
    // Idle keep-alive connections close when the server does; requests in flight get the shutdown
    // grace (closeApiApp), then every connection is closed.
    forceCloseConnections: 'idle' as const,
    // Fathom answers its own 503 while closing (closeApiApp), in the documented shape.
    return503OnClosing: false,
    http: {
      headersTimeout,
      requestTimeout,
      // Node looks for expired requests this often (30 s by default): a tenth of the shortest
      // timeout, so a slow client is cut off within 1.1 × the timeout, at most once a second.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(headersTimeout, requestTimeout) / 10))),
    },
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      sendMapped(reply, mapError(frameworkError(error, request.url)));
    },
    clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => answerClientError(error, socket, config),
  };
}

/** The errors Fastify's router raises before routing, as Fathom's codes. */
function frameworkError(error: FastifyError, url: string): unknown {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    if (url.startsWith('/v1/jobs/')) {
      return new FathomError(
        ErrorCode.InvalidJobId,
        `Job ids are at most ${MAX_PATH_PARAM_LENGTH} characters: send the \`id\` that POST /v1/jobs answered.`,
        { limitLength: MAX_PATH_PARAM_LENGTH },
      );
    }
    return new FathomError(ErrorCode.InvalidRequest, `A path segment is longer than ${MAX_PATH_PARAM_LENGTH} characters.`, {
      limitLength: MAX_PATH_PARAM_LENGTH,
    });
  }
  if (error.code === 'FST_ERR_BAD_URL')
    return new FathomError(ErrorCode.InvalidRequest, 'The URL is not valid (check its percent-encoding).');
  return error;
}

/**
 * Node's `clientError`: a request that took too long (headers or whole), headers over the limit,
 * or bytes that are not HTTP. Answered on the socket itself (no request object exists, or the
 * route is still reading the body), then the connection is closed.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket, config: ServerTimeouts): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !response?.headersSent) socket.write(rawResponse(mapError(clientError(error, config))));
  socket.destroy(error);
}

function clientError(error: Error & { code?: string }, config: ServerTimeouts): FathomError {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new FathomError(
        ErrorCode.RequestTimeout,
        `The request was not received in time: headers within ${config.API_HEADERS_TIMEOUT_MS} ms, the whole request ` +
          `within ${config.API_REQUEST_TIMEOUT_MS} ms. Send it faster, or a smaller image.`,
        { headersTimeoutMs: config.API_HEADERS_TIMEOUT_MS, requestTimeoutMs: config.API_REQUEST_TIMEOUT_MS },
      );
    case 'HPE_HEADER_OVERFLOW':
      return new FathomError(ErrorCode.HeadersTooLarge, `The request headers are larger than ${MAX_HEADER_BYTES} bytes.`, {
        limitBytes: MAX_HEADER_BYTES,
      });
    default:
      return new FathomError(ErrorCode.InvalidRequest, 'The request is not valid HTTP/1.1.');
  }
}

function rawResponse({ status, body }: MappedError): string {
  const json = JSON.stringify(body);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`
  );
}
