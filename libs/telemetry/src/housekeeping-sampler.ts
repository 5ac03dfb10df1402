import { isSpanContextValid, trace, type Attributes, type Context, type Link, type SpanKind } from '@opentelemetry/api';
import type { Sampler, SamplingResult } from '@opentelemetry/sdk-trace-base';

/**
 * BullMQ's telemetry also traces its own housekeeping — polling for the next job, stalled-job
 * checks — as root spans with no job behind them: on an idle fleet, a steady stream of one-span
 * traces. They are dropped; everything else goes to the configured sampler.
 */
const HOUSEKEEPING = /^(getNextJob|moveStalledJobsToWait|startStalledCheckTimer|rateLimit) /;

export class HousekeepingFilterSampler implements Sampler {
  constructor(private readonly next: Sampler) {}

  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    const parent = trace.getSpanContext(context);
    if (!(parent && isSpanContextValid(parent)) && HOUSEKEEPING.test(spanName)) return { decision: 0 }; // SamplingDecision.NOT_RECORD
    return this.next.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    return `HousekeepingFilter{${this.next.toString()}}`;
  }
}

/** The sampler OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG ask for (the spec's names), parent-based always-on by default. */
export function samplerFromEnv(env: NodeJS.ProcessEnv, base: typeof import('@opentelemetry/sdk-trace-base')): Sampler {
  const ratio = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
  const probability = Number.isFinite(ratio) && ratio >= 0 && ratio <= 1 ? ratio : 1;
  switch (env.OTEL_TRACES_SAMPLER) {
    case 'always_on':
      return new base.AlwaysOnSampler();
    case 'always_off':
      return new base.AlwaysOffSampler();
    case 'traceidratio':
      return new base.TraceIdRatioBasedSampler(probability);
    case 'parentbased_always_off':
      return new base.ParentBasedSampler({ root: new base.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new base.ParentBasedSampler({ root: new base.TraceIdRatioBasedSampler(probability) });
    default:
      return new base.ParentBasedSampler({ root: new base.AlwaysOnSampler() });
  }
}
