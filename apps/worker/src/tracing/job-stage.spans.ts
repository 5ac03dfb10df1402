import { context, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { JobStage } from '@fathom/contracts';
import { tracer } from '@fathom/telemetry';

/**
 * A job's stages as child spans of the span active when the job started (BullMQ's consumer span),
 * opened and closed in real time as the stages are reported: entering one ends the one before.
 * Without an active span (tracing off, so no consumer span) it creates nothing at all.
 */
export class JobStageSpans {
  private current: Span | undefined;

  private constructor(
    /** The job's context, holding the consumer span; undefined when there is none. */
    readonly jobContext: Context | undefined,
  ) {}

  static underActiveSpan(ctx: Context = context.active()): JobStageSpans {
    return new JobStageSpans(trace.getSpan(ctx) ? ctx : undefined);
  }

  /** Ends the running stage and starts `stage`; `attributes` is only called when tracing. */
  enter(stage: JobStage, attributes?: () => Attributes): void {
    this.end();
    if (this.jobContext) this.current = tracer().startSpan(stage, attributes ? { attributes: attributes() } : {}, this.jobContext);
  }

  /** Records the error on the stage it happened in, and marks that stage and the job's span failed. */
  fail(error: unknown, code: string): void {
    if (!this.jobContext) return;
    const exception = error instanceof Error ? error : String(error);
    const status = { code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) };
    const job = trace.getSpan(this.jobContext);
    (this.current ?? job)?.recordException(exception);
    this.current?.setStatus(status);
    job?.setStatus(status);
    job?.setAttribute('error.type', code);
    this.end();
  }

  end(): void {
    this.current?.end();
    this.current = undefined;
  }
}
