import pino, { type Logger, type LoggerOptions } from 'pino';
import { activeTraceFields } from './tracing';

/** Never log these, wherever they appear in a log object. */
export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["idempotency-key"]',
  'headers.authorization',
  // An ioredis error carries the command it failed on: AUTH's arguments are the Redis password.
  'err.command.args',
  'error.command.args',
  'command.args',
];

export function loggerOptions(service: string, level: string): LoggerOptions {
  return {
    level,
    base: { service },
    redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Every line written inside a traced operation carries its trace and span ids.
    // A logger bound to a job's trace id (a child with `traceId`) keeps it — no second key — and
    // gets the active span's id when that span is in the same trace.
    // bindings() parses the child's JSON: only done inside a traced operation.
    mixin: (_merge, _level, logger) => {
      const active = activeTraceFields();
      if (!('traceId' in active)) return {};
      const bound = logger.bindings().traceId as unknown;
      if (bound === undefined) return active;
      return active.traceId === bound ? { spanId: active.spanId } : {};
    },
  };
}

/** Structured JSON logs; one logger per process, children per job (`jobId`, `model`). */
export function createLogger(service: string, level: string): Logger {
  return pino(loggerOptions(service, level));
}
