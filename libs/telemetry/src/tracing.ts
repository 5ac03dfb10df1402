import { randomBytes } from 'node:crypto';
import { context, isSpanContextValid, trace, type Context, type Tracer } from '@opentelemetry/api';
import { HousekeepingFilterSampler, samplerFromEnv } from './housekeeping-sampler';

export interface Tracing {
  enabled: boolean;
  /** Flushes spans still buffered; call before the process exits. */
  shutdown(): Promise<void>;
}

/** Requests that would only add noise to traces: probes and scrapes. */
const UNTRACED_PATHS = /^\/(healthz|readyz|metrics)\b/;

/**
 * Starts the OpenTelemetry SDK when an OTLP endpoint is configured, before the application's
 * modules load (so `http` is patched in time). Everything else comes from the standard OTEL_*
 * variables: OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf by default, http/json, grpc),
 * OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_* … Off, it costs nothing: the API's
 * tracer is a no-op and no exporter runs.
 */
export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): Tracing {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint || env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') {
    return { enabled: false, shutdown: async () => undefined };
  }
  // Metrics are Prometheus (prom-client) and logs are pino on stdout: the SDK exports traces only,
  // unless an operator asks for more with the standard variables.
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  env.OTEL_SERVICE_NAME ??= serviceName;
  // Loaded only now: off, the SDK (≈150 ms and ≈20 MB at start) is never read from disk.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const traceBase = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const sdk = new NodeSDK({
    sampler: new HousekeepingFilterSampler(samplerFromEnv(env, traceBase)),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.test(request.url ?? ''),
        // Outgoing HTTP from these processes is the OTLP exporter itself.
        ignoreOutgoingRequestHook: () => true,
      }),
    ],
  });
  sdk.start();
  return { enabled: true, shutdown: () => sdk.shutdown() };
}

export function tracer(): Tracer {
  return trace.getTracer('fathom');
}

/** The trace id of the active span, when tracing is on and a span is active. */
export function activeTraceId(ctx: Context = context.active()): string | undefined {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext && isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

/** Trace and span ids for a log line, from the active span. */
export function activeTraceFields(): { traceId: string; spanId: string } | Record<string, never> {
  const spanContext = trace.getSpanContext(context.active());
  return spanContext && isSpanContextValid(spanContext) ? { traceId: spanContext.traceId, spanId: spanContext.spanId } : {};
}

/** A W3C trace id for correlating logs and status when tracing is off. */
export function newTraceId(): string {
  return randomBytes(16).toString('hex');
}

/** The span attribute naming the API key of a request or job (its public id, never its secret). */
export const KEY_ID_ATTRIBUTE = 'fathom.key.id';
