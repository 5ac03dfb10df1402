import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ErrorCode, TaskName } from '@fathom/contracts';
import type { FeatureSide, LoadedModel, StageTimes } from '../inference/thread-protocol';

/**
 * Durations in seconds, 5 ms (a stage on a small image) … 2 min (a large image on CPU behind a
 * queue), about ×2–2.5 apart so a quantile read from them is off by at most one step. 5, 30 and
 * 60 are bounds because alert rules compare against them (deploy/prometheus/alerts.yml: p95
 * end-to-end above 30 s); beyond 2 min only +Inf.
 */
export const DURATION_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** Stages timed on the inference thread (fetch and store are on the main thread, in traces only). */
export const TIMED_STAGES = ['decode', 'preprocess', 'inference', 'postprocess', 'encode'] as const satisfies readonly (keyof StageTimes)[];

/** A served model as metrics label it: values from its manifest, `variant` "" when none. */
export interface ModelLabels {
  model: string;
  version: string;
  variant: string;
  task: TaskName;
}

export function modelLabels(model: { name: string; version: string; variant?: string; task: TaskName }): ModelLabels {
  return { model: model.name, version: model.version, variant: model.variant ?? '', task: model.task };
}

/**
 * The worker's Prometheus metrics (docs/metrics.md, Worker section), in a registry of its own
 * with prom-client's process metrics, written through intent methods (the pool's scrape-time
 * gauges are in inference-pool.collector.ts). Labels are bounded: model, version, variant and task come
 * from manifests, code from the error-code list, stage from a fixed list.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  /** The provider series set for each model, so a replaced thread's different provider replaces it. */
  private readonly providerSeries = new Map<string, Record<'model' | 'version' | 'variant' | 'provider' | 'requested', string>>();

  private readonly jobsCompleted = new Counter({
    name: 'fathom_jobs_completed_total',
    help: 'Jobs this worker completed.',
    labelNames: ['model', 'version', 'variant', 'task'] as const,
    registers: [this.registry],
  });

  private readonly jobsFailed = new Counter({
    name: 'fathom_jobs_failed_total',
    help: 'Failed attempts, by error code; final="true" when no attempt is left (or the input is bad and never retried).',
    labelNames: ['model', 'version', 'variant', 'task', 'code', 'final'] as const,
    registers: [this.registry],
  });

  private readonly jobsStalled = new Counter({
    name: 'fathom_jobs_stalled_total',
    help: 'Runs lost because the worker running the job died (its lock expired), counted by the worker whose stalled check put the job back: each once for the cluster.',
    labelNames: ['model', 'version', 'variant', 'task'] as const,
    registers: [this.registry],
  });

  private readonly stageTimeouts = new Counter({
    name: 'fathom_job_stage_timeouts_total',
    help: 'Attempts failed inference_timeout because a stage outlasted its WORKER_*_TIMEOUT_MS; each replaced the inference thread.',
    labelNames: ['model', 'version', 'variant', 'stage'] as const,
    registers: [this.registry],
  });

  private readonly jobDuration = new Histogram({
    name: 'fathom_job_duration_seconds',
    help: 'End to end, accepted by the API → completed by this worker (queue wait and retries included).',
    labelNames: ['model', 'version', 'task'] as const,
    buckets: DURATION_SECONDS_BUCKETS,
    registers: [this.registry],
  });

  private readonly queueWait = new Histogram({
    name: 'fathom_job_queue_wait_seconds',
    help: 'Accepted by the API → taken by a worker, for first attempts.',
    labelNames: ['model', 'version', 'task'] as const,
    buckets: DURATION_SECONDS_BUCKETS,
    registers: [this.registry],
  });

  private readonly stageDuration = new Histogram({
    name: 'fathom_job_stage_duration_seconds',
    help: 'Each stage of a completed job on the inference thread: decode, preprocess, inference, postprocess, encode.',
    labelNames: ['model', 'version', 'stage'] as const,
    buckets: DURATION_SECONDS_BUCKETS,
    registers: [this.registry],
  });

  private readonly batchSize = new Histogram({
    name: 'fathom_inference_batch_size',
    help: "Jobs per session.run (1 unless the model's manifest asks for micro-batching).",
    labelNames: ['model', 'version', 'variant'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });

  private readonly batchDuration = new Histogram({
    name: 'fathom_inference_batch_duration_seconds',
    help: 'One session.run, for the whole batch.',
    labelNames: ['model', 'version', 'variant'] as const,
    buckets: DURATION_SECONDS_BUCKETS,
    registers: [this.registry],
  });

  private readonly modelLoad = new Gauge({
    name: 'fathom_model_load_seconds',
    help: 'Time to create the model session at start.',
    labelNames: ['model', 'version', 'variant'] as const,
    registers: [this.registry],
  });

  private readonly modelWarmup = new Gauge({
    name: 'fathom_model_warmup_seconds',
    help: 'Time of the warm-up inference at start.',
    labelNames: ['model', 'version', 'variant'] as const,
    registers: [this.registry],
  });

  private readonly executionProvider = new Gauge({
    name: 'fathom_model_execution_provider',
    help: 'Always 1: the execution provider a model runs on, and the one requested (the first of ORT_EXECUTION_PROVIDERS); provider != requested is a fallback.',
    labelNames: ['model', 'version', 'variant', 'provider', 'requested'] as const,
    registers: [this.registry],
  });

  private readonly fallbacks = new Counter({
    name: 'fathom_execution_provider_fallbacks_total',
    help: 'Sessions that could not use the requested execution provider and fell back to the next one (finally CPU).',
    labelNames: ['model', 'version', 'requested'] as const,
    registers: [this.registry],
  });

  private readonly predictionsDropped = new Counter({
    name: 'fathom_predictions_dropped_total',
    help: 'Prediction-log records dropped before reaching PostgreSQL: here, records the worker could not hand to Redis within its buffer (stage="worker").',
    labelNames: ['stage'] as const,
    registers: [this.registry],
  });

  private readonly predictionsUnlogged = new Counter({
    name: 'fathom_predictions_unlogged_total',
    help: 'Finished jobs whose data did not read as the job contract, so no prediction record could be made.',
    registers: [this.registry],
  });

  private readonly featuresSkipped = new Counter({
    name: 'fathom_prediction_features_skipped_total',
    help: 'Runs whose input or output features (side) threw or broke the contract: the job went on, its prediction record without them.',
    labelNames: ['model', 'version', 'side'] as const,
    registers: [this.registry],
  });

  constructor(
    /** The first of ORT_EXECUTION_PROVIDERS: what every session asks for. */
    private readonly requestedProvider: string,
  ) {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Load and warm-up times and the provider of each session a thread created. */
  modelsLoaded(models: ReadonlyArray<{ labels: ModelLabels; loaded: LoadedModel }>): void {
    for (const { labels, loaded } of models) {
      const { model, version, variant } = labels;
      this.modelLoad.set({ model, version, variant }, loaded.loadMs / 1000);
      this.modelWarmup.set({ model, version, variant }, loaded.warmupMs / 1000);
      const series = { model, version, variant, provider: loaded.executionProvider, requested: this.requestedProvider };
      const previous = this.providerSeries.get(loaded.key);
      if (previous && previous.provider !== series.provider) this.executionProvider.remove(previous);
      this.executionProvider.set(series, 1);
      this.providerSeries.set(loaded.key, series);
      if (loaded.fallbackFrom) this.fallbacks.inc({ model, version, requested: this.requestedProvider });
    }
  }

  /** A model unloaded at runtime (a retired deployment): its per-model gauges go, so a scrape shows only what is loaded. */
  modelUnloaded(key: string, labels: ModelLabels): void {
    const { model, version, variant } = labels;
    this.modelLoad.remove({ model, version, variant });
    this.modelWarmup.remove({ model, version, variant });
    const series = this.providerSeries.get(key);
    if (series) this.executionProvider.remove(series);
    this.providerSeries.delete(key);
  }

  batchRan(labels: ModelLabels, size: number, seconds: number): void {
    const { model, version, variant } = labels;
    this.batchSize.observe({ model, version, variant }, size);
    this.batchDuration.observe({ model, version, variant }, seconds);
  }

  jobTaken(labels: ModelLabels, waitSeconds: number): void {
    this.queueWait.observe({ model: labels.model, version: labels.version, task: labels.task }, waitSeconds);
  }

  jobCompleted(labels: ModelLabels, totalSeconds: number, stageMs: StageTimes): void {
    const { model, version, task } = labels;
    this.jobsCompleted.inc(labels);
    this.jobDuration.observe({ model, version, task }, totalSeconds);
    for (const stage of TIMED_STAGES) this.stageDuration.observe({ model, version, stage }, stageMs[stage] / 1000);
  }

  /** A job of this queue lost its worker (maybe another worker's) and was put back to run again, or to fail `worker_lost`. */
  jobStalled(labels: ModelLabels): void {
    this.jobsStalled.inc(labels);
  }

  /** A stage of the job ran past its limit (the attempt then fails `inference_timeout`, counted by jobFailed). */
  stageTimedOut(labels: ModelLabels, stage: keyof StageTimes): void {
    this.stageTimeouts.inc({ model: labels.model, version: labels.version, variant: labels.variant, stage });
  }

  jobFailed(labels: ModelLabels, code: ErrorCode, final: boolean): void {
    this.jobsFailed.inc({ ...labels, code, final: String(final) });
  }

  /** Records the worker's buffer pushed out while Redis did not take them. */
  predictionRecordsDropped(count: number): void {
    this.predictionsDropped.inc({ stage: 'worker' }, count);
  }

  predictionNotLogged(): void {
    this.predictionsUnlogged.inc();
  }

  /** A run left out some of its prediction features (RunOutput.features.skipped); the job itself went on. */
  predictionFeaturesSkipped(labels: ModelLabels, sides: readonly FeatureSide[]): void {
    for (const side of sides) this.featuresSkipped.inc({ model: labels.model, version: labels.version, side });
  }
}
