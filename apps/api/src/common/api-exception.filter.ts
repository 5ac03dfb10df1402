import { ArgumentsHost, Catch, HttpException, Inject, Logger, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { ErrorCode, FathomError, type ErrorBody } from '@fathom/contracts';
import { asStoreUnavailable } from '@fathom/queue';
import { ApiMetrics } from '../metrics/api-metrics';
import { wasUploadAccepted } from './accepted-uploads';
import { ERROR_STATUS } from './error-status';
import { JSON_BODY_LIMIT_BYTES } from './http-limits';
import { isUploadRoute } from './http-observability';

/** Fastify and its plugins (multipart) throw errors with a `code` like FST_REQ_FILE_TOO_LARGE. */
interface FastifyStyleError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
}

const FASTIFY_CODES: Record<string, { code: ErrorCode; status: number; message?: string }> = {
  FST_REQ_FILE_TOO_LARGE: { code: ErrorCode.ImageTooLarge, status: 413, message: 'The uploaded file is larger than the limit.' },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: ErrorCode.BodyTooLarge,
    status: 413,
    message: `The request body is larger than ${JSON_BODY_LIMIT_BYTES} bytes.`,
  },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { code: ErrorCode.InvalidRequest, status: 400, message: 'Expected a multipart/form-data request.' },
  // The upload form's reader answers these with the limits named; here for any other multipart reader.
  FST_FILES_LIMIT: { code: ErrorCode.TooManyFiles, status: 400, message: 'Send exactly one file, in the `image` field.' },
  FST_PARTS_LIMIT: { code: ErrorCode.TooManyFields, status: 400, message: 'Too many form parts.' },
  FST_FIELDS_LIMIT: { code: ErrorCode.TooManyFields, status: 400, message: 'Too many form fields.' },
  FST_PROTO_VIOLATION: { code: ErrorCode.InvalidRequest, status: 400, message: 'A form field is named like an Object property.' },
  FST_MP_PREMATURE_CLOSE: { code: ErrorCode.InvalidRequest, status: 400, message: 'The request ended before the form did.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: ErrorCode.InvalidRequest, status: 415, message: 'Unsupported request Content-Type.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: ErrorCode.InvalidRequest, status: 400, message: 'The JSON body is empty.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: ErrorCode.InvalidRequest, status: 400 },
};

const HTTP_STATUS_CODES: Record<number, ErrorCode> = {
  400: ErrorCode.InvalidRequest,
  404: ErrorCode.RouteNotFound,
  405: ErrorCode.RouteNotFound,
  413: ErrorCode.BodyTooLarge,
  415: ErrorCode.InvalidRequest,
  503: ErrorCode.ServiceUnavailable,
};

export interface MappedError {
  status: number;
  body: ErrorBody;
  retryAfterSeconds?: number;
}

/** Turns anything thrown into the public error shape; unknown errors never leak their text. */
export function mapError(error: unknown): MappedError {
  // Node's request stream when the client went away mid-body (or was cut off by a timeout): no
  // server fault. Its code is ECONNRESET, as a lost Redis connection's is: tell them apart first.
  const hangUp = error as FastifyStyleError;
  if (hangUp?.code === 'ECONNRESET' && hangUp.message === 'aborted') {
    return { status: 400, body: { error: { code: ErrorCode.InvalidRequest, message: 'The request ended before its body did.' } } };
  }
  // Any Redis failure (ioredis', BullMQ's, or wrapped in a FathomError) is 503 store_unavailable.
  const storeError = asStoreUnavailable(error);
  if (storeError && storeError !== error) return mapError(storeError);
  if (error instanceof FathomError) {
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error.details !== undefined) body.error.details = error.details;
    return { status: ERROR_STATUS[error.code], body, retryAfterSeconds: error.retryAfterSeconds };
  }
  if (error instanceof ZodError) {
    return {
      status: 400,
      body: {
        error: {
          code: ErrorCode.InvalidRequest,
          message: 'The request is invalid.',
          details: error.issues.map(({ path, message }) => ({ path, message })),
        },
      },
    };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const code = HTTP_STATUS_CODES[status] ?? (status >= 500 ? ErrorCode.Internal : ErrorCode.InvalidRequest);
    const message =
      status === 404
        ? 'No such route.'
        : status === 413
          ? `The request body is larger than ${JSON_BODY_LIMIT_BYTES} bytes.`
          : error.message;
    return { status, body: { error: { code, message } } };
  }
  const fastifyError = error as FastifyStyleError;
  if (typeof fastifyError?.code === 'string' && fastifyError.code in FASTIFY_CODES) {
    const mapped = FASTIFY_CODES[fastifyError.code]!;
    const message = mapped.message ?? (typeof fastifyError.message === 'string' ? fastifyError.message : 'Bad request.');
    return { status: mapped.status, body: { error: { code: mapped.code, message } } };
  }
  if (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    const status = fastifyError.statusCode;
    return { status, body: { error: { code: HTTP_STATUS_CODES[status] ?? ErrorCode.InvalidRequest, message: 'Bad request.' } } };
  }
  return { status: 500, body: { error: { code: ErrorCode.Internal, message: 'Internal error.' } } };
}

@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(ApiExceptionFilter.name);

  constructor(@Inject(ApiMetrics) private readonly metrics: ApiMetrics) {}

  catch(error: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const mapped = mapError(error);
    // Every refusal of an upload becomes a response here, and only here.
    if (isUploadRoute(request) && !wasUploadAccepted(request)) this.metrics.uploadRejected(mapped.body.error.code);
    // A Redis outage is logged once, by RedisAvailability, not once per refused request.
    if (mapped.status >= 500 && !(error instanceof FathomError) && mapped.body.error.code !== ErrorCode.StoreUnavailable)
      this.logger.error(error);
    sendMapped(reply, mapped);
  }
}

/** Answers with a mapped error: its status, Retry-After when it has one, the JSON body. */
export function sendMapped(reply: FastifyReply, mapped: MappedError): void {
  if (mapped.retryAfterSeconds !== undefined) void reply.header('Retry-After', String(mapped.retryAfterSeconds));
  void reply.status(mapped.status).header('Content-Type', 'application/json; charset=utf-8').send(mapped.body);
}
