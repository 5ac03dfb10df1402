import type { JobProgress } from '@fathom/contracts';
import { WorkerMetrics } from '../metrics/worker.metrics';
import { JobStageSpans } from '../tracing/job-stage.spans';
import { JobProgressReporter } from './job-progress.reporter';
import { JobStageTracker } from './job-stage.tracker';

const labels = { model: 'depth', version: '2.0.0', variant: '', task: 'depth' as const };

describe('JobStageTracker', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function tracker() {
    const updates: JobProgress[] = [];
    const metrics = new WorkerMetrics('cpu');
    const progress = new JobProgressReporter({ updateProgress: async (p) => void updates.push(p as JobProgress) }, (e) => {
      throw e;
    });
    return { updates, metrics, stages: new JobStageTracker(labels, { progress, spans: JobStageSpans.underActiveSpan(), metrics }) };
  }

  it('sends one stage to the clock, the progress and, once completed, the metrics', async () => {
    const { updates, metrics, stages } = tracker();
    stages.enter('fetch', 0);
    stages.enter('decode', 10);
    stages.enter('preprocess', 30);
    stages.pause(34);
    stages.enter('inference', 50, { batchSize: 2 });
    await jest.advanceTimersByTimeAsync(60); // inference is slow enough to be reported
    stages.enter('postprocess', 250);
    stages.enter('encode', 260);
    stages.pause(265);
    stages.enter('store', 270);
    stages.completed(0.5);
    await stages.end();

    expect(stages.timings).toEqual({ decode: 20, preprocess: 4, inference: 200, postprocess: 10, encode: 5 });
    expect(updates).toEqual([{ stage: 'inference', percent: 43 }]);
    const text = await metrics.registry.getSingleMetricAsString('fathom_job_stage_duration_seconds');
    expect(text).toContain('fathom_job_stage_duration_seconds_sum{model="depth",version="2.0.0",stage="inference"} 0.2');
    expect(await metrics.registry.getSingleMetricAsString('fathom_jobs_completed_total')).toContain(
      'fathom_jobs_completed_total{model="depth",version="2.0.0",variant="",task="depth"} 1',
    );
  });

  it('counts a failure with its code and whether it was the last attempt, and reports no progress after the end', async () => {
    const { updates, metrics, stages } = tracker();
    stages.enter('decode', 0);
    stages.failed(new Error('[image_undecodable] not an image'), 'image_undecodable', true);
    await stages.end();
    await jest.advanceTimersByTimeAsync(1_000);
    expect(updates).toEqual([]);
    expect(await metrics.registry.getSingleMetricAsString('fathom_jobs_failed_total')).toContain(
      'fathom_jobs_failed_total{model="depth",version="2.0.0",variant="",task="depth",code="image_undecodable",final="true"} 1',
    );
  });
});
