import { SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import { tracer } from '@fathom/telemetry';

/** Whether this process exports traces (startTracing found an OTLP endpoint); see instrumentation.ts. */
export const TRACING = Symbol('TRACING');
export interface TracingState {
  enabled: boolean;
}

/**
 * Runs `fn` in a child span of the active one, ended when it settles. With tracing off the tracer is
 * OpenTelemetry's no-op: no span is recorded and no context is switched.
 */
export function inSpan<T>(name: string, fn: (span: Span) => Promise<T>, attributes?: Attributes): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}
