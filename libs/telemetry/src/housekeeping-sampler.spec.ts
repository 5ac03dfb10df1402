import { ROOT_CONTEXT, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import * as traceBase from '@opentelemetry/sdk-trace-base';
import { HousekeepingFilterSampler, samplerFromEnv } from './housekeeping-sampler';

describe('which spans are recorded when tracing is on', () => {
  const sampler = new HousekeepingFilterSampler(samplerFromEnv({}, traceBase));
  const decide = (name: string, context = ROOT_CONTEXT) =>
    sampler.shouldSample(context, '0af7651916cd43dd8448eb211c80319c', name, SpanKind.INTERNAL, {}, []).decision;
  const inJob = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
  });

  it('drops BullMQ’s housekeeping when no job is behind it, keeps everything about a job', () => {
    expect(decide('getNextJob infer.depth@1.0.0')).toBe(traceBase.SamplingDecision.NOT_RECORD);
    expect(decide('moveStalledJobsToWait infer.depth@1.0.0')).toBe(traceBase.SamplingDecision.NOT_RECORD);
    expect(decide('POST /v1/jobs')).toBe(traceBase.SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide('process infer.depth@1.0.0', inJob)).toBe(traceBase.SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide('getNextJob infer.depth@1.0.0', inJob)).toBe(traceBase.SamplingDecision.RECORD_AND_SAMPLED);
  });

  it('follows OTEL_TRACES_SAMPLER for the rest', () => {
    const off = new HousekeepingFilterSampler(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' }, traceBase));
    expect(off.shouldSample(ROOT_CONTEXT, '0af7651916cd43dd8448eb211c80319c', 'POST /v1/jobs', SpanKind.SERVER, {}, []).decision).toBe(
      traceBase.SamplingDecision.NOT_RECORD,
    );
    expect(
      samplerFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }, traceBase).toString(),
    ).toMatch(/^ParentBased\{root=TraceIdRatioBased\{0\.25\}/);
  });
});
