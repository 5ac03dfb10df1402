import { Registry } from 'prom-client';
import { WsEvent } from '@fathom/contracts';
import { ApiMetrics } from './api-metrics';

/** The value of one sample of a scrape, by name and exact labels (undefined when absent). */
async function sample(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  const samples = (await registry.getMetricsAsJSON()).flatMap((m) =>
    m.values.map((v) => ({ name: (v as { metricName?: string }).metricName ?? m.name, labels: v.labels, value: v.value })),
  );
  return samples.find((v) => v.name === name && JSON.stringify(Object.entries(v.labels).sort()) === wanted)?.value;
}

describe('ApiMetrics: intent methods, counted under the names docs/metrics.md lists', () => {
  const model = { name: 'depth', version: '1.0.0', task: 'depth' as const };
  const image = { format: 'png' as const, bytes: 20_000, width: 400, height: 300 };

  it('counts a submission by version, variant and route, and its image on the input histograms', async () => {
    const registry = new Registry();
    const metrics = new ApiMetrics(registry);
    metrics.jobSubmitted(model, 'pinned', image);
    metrics.jobSubmitted({ ...model, variant: 'indoor' }, 'stable', image);
    const labels = { model: 'depth', version: '1.0.0', task: 'depth' };
    expect(await sample(registry, 'fathom_jobs_submitted_total', { ...labels, variant: '', route: 'pinned' })).toBe(1);
    expect(await sample(registry, 'fathom_jobs_submitted_total', { ...labels, variant: 'indoor', route: 'stable' })).toBe(1);
    expect(await sample(registry, 'fathom_uploads_total', { format: 'png' })).toBe(2);
    expect(await sample(registry, 'fathom_uploads_total', { format: 'jpeg' })).toBe(0);
    expect(await sample(registry, 'fathom_input_megapixels_sum', { model: 'depth' })).toBeCloseTo(0.24);
    expect(await sample(registry, 'fathom_input_width_pixels_count', { model: 'depth' })).toBe(2);
  });

  it('counts cancellations, refusals, requests and socket events', async () => {
    const registry = new Registry();
    const metrics = new ApiMetrics(registry);
    metrics.jobCancelled({ ...model, variant: 'indoor', route: 'canary' });
    metrics.uploadRejected('queue_full');
    metrics.requestLimited('quota_exceeded');
    metrics.httpRequestStarted();
    metrics.httpRequestStarted();
    metrics.httpRequestClosed();
    metrics.httpRequestAnswered('/v1/jobs/:id', 'GET', 404, 0.003);
    metrics.socketConnected();
    metrics.wsEventPushed(WsEvent.Completed);
    metrics.wsEventUnheard(WsEvent.Failed);
    expect(await sample(registry, 'fathom_jobs_cancelled_total', { model: 'depth', version: '1.0.0', task: 'depth' })).toBe(1);
    expect(await sample(registry, 'fathom_uploads_rejected_total', { reason: 'queue_full' })).toBe(1);
    expect(await sample(registry, 'fathom_requests_limited_total', { reason: 'quota_exceeded' })).toBe(1);
    expect(await sample(registry, 'fathom_requests_limited_total', { reason: 'rate_limited' })).toBe(0);
    expect(await sample(registry, 'fathom_http_requests_in_flight', {})).toBe(1);
    const request = { route: '/v1/jobs/:id', method: 'GET', status_class: '4xx' };
    expect(await sample(registry, 'fathom_http_request_duration_seconds_count', request)).toBe(1);
    expect(await sample(registry, 'fathom_ws_clients_connected', {})).toBe(1);
    expect(await sample(registry, 'fathom_ws_events_pushed_total', { event: 'job.completed' })).toBe(1);
    expect(await sample(registry, 'fathom_ws_events_pushed_total', { event: 'job.progress' })).toBe(0);
    expect(await sample(registry, 'fathom_ws_events_unheard_total', { event: 'job.failed' })).toBe(1);
  });

  it('keeps each instance in its own registry', async () => {
    const [a, b] = [new Registry(), new Registry()];
    new ApiMetrics(a).uploadRejected('model_not_found');
    new ApiMetrics(b);
    expect(await sample(a, 'fathom_uploads_rejected_total', { reason: 'model_not_found' })).toBe(1);
    expect(await sample(b, 'fathom_uploads_rejected_total', { reason: 'model_not_found' })).toBeUndefined();
  });
});
