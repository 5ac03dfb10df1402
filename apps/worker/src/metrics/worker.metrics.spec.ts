import { InferencePoolCollector } from './inference-pool.collector';
import { WorkerMetrics } from './worker.metrics';

const labels = { model: 'depth', version: '2.0.0', variant: '', task: 'depth' as const };

async function samples(metrics: WorkerMetrics, name: string): Promise<Array<{ labels: Record<string, string | number>; value: number }>> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values ?? []).map(({ labels: l, value }) => ({ labels: l as Record<string, string | number>, value }));
}

describe('WorkerMetrics', () => {
  it('shows a CUDA → CPU fallback: the provider in use beside the one requested, and a counted fallback', async () => {
    const metrics = new WorkerMetrics('cuda');
    metrics.modelsLoaded([
      {
        labels,
        loaded: {
          key: 'depth@2.0.0',
          executionProvider: 'cpu',
          fallbackFrom: 'cuda: libcudart.so.12 not found',
          loadMs: 1500,
          warmupMs: 250,
          maxBatch: 1,
        },
      },
    ]);
    expect(await samples(metrics, 'fathom_model_execution_provider')).toEqual([
      { labels: { model: 'depth', version: '2.0.0', variant: '', provider: 'cpu', requested: 'cuda' }, value: 1 },
    ]);
    expect(await samples(metrics, 'fathom_execution_provider_fallbacks_total')).toEqual([
      { labels: { model: 'depth', version: '2.0.0', requested: 'cuda' }, value: 1 },
    ]);
    expect(await samples(metrics, 'fathom_model_load_seconds')).toEqual([
      { labels: { model: 'depth', version: '2.0.0', variant: '' }, value: 1.5 },
    ]);
    expect(await samples(metrics, 'fathom_model_warmup_seconds')).toEqual([
      { labels: { model: 'depth', version: '2.0.0', variant: '' }, value: 0.25 },
    ]);
  });

  it('keeps one provider series per model when a replaced thread reports another provider', async () => {
    const metrics = new WorkerMetrics('cuda');
    metrics.modelsLoaded([{ labels, loaded: { key: 'depth@2.0.0', executionProvider: 'cuda', loadMs: 900, warmupMs: 80, maxBatch: 1 } }]);
    metrics.modelsLoaded([
      {
        labels,
        loaded: {
          key: 'depth@2.0.0',
          executionProvider: 'cpu',
          fallbackFrom: 'cuda: out of memory',
          loadMs: 300,
          warmupMs: 90,
          maxBatch: 1,
        },
      },
    ]);
    expect((await samples(metrics, 'fathom_model_execution_provider')).map((s) => s.labels.provider)).toEqual(['cpu']);
    expect(await samples(metrics, 'fathom_execution_provider_fallbacks_total')).toEqual([expect.objectContaining({ value: 1 })]);
  });

  it("drops an unloaded model's load, warm-up and provider series, keeping the others'", async () => {
    const metrics = new WorkerMetrics('cpu');
    const other = { ...labels, model: 'other' };
    metrics.modelsLoaded([
      { labels, loaded: { key: 'depth@2.0.0', executionProvider: 'cpu', loadMs: 900, warmupMs: 80, maxBatch: 1 } },
      { labels: other, loaded: { key: 'other@2.0.0', executionProvider: 'cpu', loadMs: 100, warmupMs: 10, maxBatch: 1 } },
    ]);
    metrics.modelUnloaded('depth@2.0.0', labels);
    for (const name of ['fathom_model_load_seconds', 'fathom_model_warmup_seconds', 'fathom_model_execution_provider'])
      expect((await samples(metrics, name)).map((s) => s.labels.model)).toEqual(['other']);
  });

  it('reads busy seconds from the pool at scrape time, never going back', async () => {
    const metrics = new WorkerMetrics('cpu');
    let busy = 2.5;
    const loadedModels = [{}];
    new InferencePoolCollector(metrics.registry, { size: 2, hungThreads: 0, loadedModels, busySeconds: () => busy });
    expect(await samples(metrics, 'fathom_worker_inference_slots')).toEqual([{ labels: {}, value: 2 }]);
    expect(await samples(metrics, 'fathom_worker_models_loaded')).toEqual([{ labels: {}, value: 1 }]);
    expect(await samples(metrics, 'fathom_worker_inference_busy_seconds_total')).toEqual([{ labels: {}, value: 2.5 }]);
    busy = 4;
    expect(await samples(metrics, 'fathom_worker_inference_busy_seconds_total')).toEqual([{ labels: {}, value: 4 }]);
    busy = 3.9; // a float rounding the other way must not make a counter decrease
    expect(await samples(metrics, 'fathom_worker_inference_busy_seconds_total')).toEqual([{ labels: {}, value: 4 }]);
  });

  it('labels failures with the code and whether the job is given up', async () => {
    const metrics = new WorkerMetrics('cpu');
    metrics.jobFailed(labels, 'inference_failed', false);
    metrics.jobFailed(labels, 'inference_failed', true);
    expect(await samples(metrics, 'fathom_jobs_failed_total')).toEqual([
      { labels: { ...labels, code: 'inference_failed', final: 'false' }, value: 1 },
      { labels: { ...labels, code: 'inference_failed', final: 'true' }, value: 1 },
    ]);
  });

  it('observes each stage of a completed job in seconds', async () => {
    const metrics = new WorkerMetrics('cpu');
    metrics.jobCompleted(labels, 1.2, { decode: 3, preprocess: 4, inference: 120, postprocess: 6, encode: 7 });
    const text = await metrics.registry.getSingleMetricAsString('fathom_job_stage_duration_seconds');
    expect(text).toContain('fathom_job_stage_duration_seconds_sum{model="depth",version="2.0.0",stage="inference"} 0.12');
    expect(text).toContain('fathom_job_stage_duration_seconds_bucket{le="0.1",model="depth",version="2.0.0",stage="inference"} 0');
    expect(text).toContain('fathom_job_stage_duration_seconds_bucket{le="0.25",model="depth",version="2.0.0",stage="inference"} 1');
    expect(text.match(/_count\{[^}]*\} 1$/gm)).toHaveLength(5);
    expect(await metrics.registry.getSingleMetricAsString('fathom_job_duration_seconds')).toContain(
      'fathom_job_duration_seconds_sum{model="depth",version="2.0.0",task="depth"} 1.2',
    );
  });
});
