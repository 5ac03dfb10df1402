import { context, type Attributes } from '@opentelemetry/api';
import type { ErrorCode, JobStage } from '@fathom/contracts';
import type { StageListener } from '../inference/inference.pool';
import { stageClockNow, type StageTimes } from '../inference/thread-protocol';
import type { ModelLabels, WorkerMetrics } from '../metrics/worker.metrics';
import type { JobStageSpans } from '../tracing/job-stage.spans';
import type { JobProgressReporter } from './job-progress.reporter';
import { StageClock } from './stage-clock';

/**
 * One job attempt's stages, tracked in one place: each stage the job enters (on the main thread or,
 * through the pool, on its inference thread) goes to the clock (the result's timings), a span (when
 * tracing), the job's progress, and at the end to the metrics.
 */
export class JobStageTracker implements StageListener {
  private readonly clock = new StageClock();
  private inferenceAttributes: ((batchSize: number) => Attributes) | undefined;

  constructor(
    private readonly labels: ModelLabels,
    private readonly sinks: { progress: JobProgressReporter; spans: JobStageSpans; metrics: WorkerMetrics },
  ) {}

  /** Milliseconds in each inference-thread stage so far. */
  get timings(): StageTimes {
    return { ...this.clock.timings };
  }

  /** What the inference span says about the run (called only when tracing). */
  describeInference(attributes: (batchSize: number) => Attributes): void {
    this.inferenceAttributes = attributes;
  }

  /** The job enters `stage` (at `at` on the stage clock; now when on the main thread). */
  enter(stage: JobStage, at: number = stageClockNow(), detail?: { batchSize: number }): void {
    this.clock.enter(stage, at);
    // Stage messages arrive on the inference thread's message handler, outside the job's context:
    // put it back so the span, the progress and their log lines belong to the job's trace.
    this.inJobContext(() => {
      const attributes = this.inferenceAttributes;
      this.sinks.spans.enter(stage, stage === 'inference' && attributes ? () => attributes(detail?.batchSize ?? 1) : undefined);
      this.sinks.progress.enter(stage);
    });
  }

  /** The job left its stage on its thread without entering another (waiting for a batch, done). */
  pause(at: number): void {
    this.clock.pause(at);
  }

  completed(totalSeconds: number): void {
    this.sinks.spans.end();
    this.sinks.metrics.jobCompleted(this.labels, totalSeconds, this.clock.timings);
  }

  /** `error` as BullMQ will keep it; `final` when no attempt follows. */
  failed(error: Error, code: ErrorCode, final: boolean): void {
    this.sinks.spans.fail(error, code);
    this.sinks.metrics.jobFailed(this.labels, code, final);
  }

  /** Closes the running span and sends no more progress; resolves once what was sent has reached Redis. */
  async end(): Promise<void> {
    this.sinks.spans.end();
    await this.sinks.progress.stop();
  }

  private inJobContext(fn: () => void): void {
    const jobContext = this.sinks.spans.jobContext;
    if (jobContext) context.with(jobContext, fn);
    else fn();
  }
}
