import { basename, extname } from 'node:path';
import { context, type Attributes } from '@opentelemetry/api';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import {
  ErrorCode,
  FathomError,
  formatFailureReason,
  inferenceJobDataSchema,
  parseFailureReason,
  upgradeJobData,
  type InferenceJobData,
  type InferenceResult,
  type JobStage,
  type TaskName,
} from '@fathom/contracts';
import { specKey } from '@fathom/models';
import type { BlobStore } from '@fathom/storage';
import { activeTraceId } from '@fathom/telemetry';
import { InferenceError, type InferencePool, type StageListener } from '../inference/inference.pool';
import { modelLabels, type ModelLabels, type WorkerMetrics } from '../metrics/worker.metrics';
import { JobStageSpans } from '../tracing/job-stage.spans';
import { JobProgressReporter } from './job-progress.reporter';

/** The model a queue serves, as its manifest names it: what the job's metrics are labelled with. */
export interface QueueModel {
  name: string;
  version: string;
  variant?: string;
  task: TaskName;
}

/**
 * The thin processor: parse the job, fetch its input, run it on an inference thread, store the
 * artifact, return the typed result. Bad input throws UnrecoverableError (never retried);
 * anything else throws normally so BullMQ retries with backoff. Each attempt is counted and, when
 * tracing, each stage is a child span of BullMQ's consumer span.
 */
export class InferenceProcessor {
  constructor(
    private readonly pool: InferencePool,
    private readonly blobs: BlobStore,
    private readonly workerId: string,
    private readonly logger: Logger,
    private readonly metrics: WorkerMetrics,
  ) {}

  async process(job: Job<InferenceJobData, InferenceResult>, queueModel: QueueModel): Promise<InferenceResult> {
    const labels = modelLabels(queueModel);
    const stages = JobStageSpans.underActiveSpan();
    const progress = new JobProgressReporter(job, (error) =>
      this.logger.warn({ msg: 'progress not reported', jobId: job.id, error: error.message }),
    );
    try {
      return await this.run(job, labels, stages, progress);
    } catch (error) {
      const { code } = parseFailureReason((error as Error).message);
      const unrecoverable = error instanceof UnrecoverableError || (error as Error).name === 'UnrecoverableError';
      // attemptsMade counts the attempts before this one: BullMQ adds this one when it records the failure.
      this.metrics.jobFailed(labels, code, unrecoverable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
      stages.fail(error, code);
      throw error;
    } finally {
      stages.end();
      await progress.stop();
    }
  }

  private async run(
    job: Job<InferenceJobData, InferenceResult>,
    labels: ModelLabels,
    stages: JobStageSpans,
    progress: JobProgressReporter,
  ): Promise<InferenceResult> {
    // A retry's due time is not kept by BullMQ (a promoted job's delay is reset to 0): first attempts only.
    if (job.attemptsMade === 0 && job.attemptsStarted <= 1 && job.processedOn) {
      this.metrics.jobTaken(labels, Math.max(0, job.processedOn - job.timestamp - (job.opts.delay ?? 0)) / 1000);
    }
    const parsed = inferenceJobDataSchema.safeParse(upgradeJobData(job.data));
    if (!parsed.success) throw giveUp(ErrorCode.InvalidRequest, 'The job data does not match the contract.');
    const data = parsed.data;
    // Every line names the job's trace id — the one in its status, set by the API — even when this
    // worker traces and the API did not (the logger's mixin then leaves the bound id alone).
    const traceId = data.traceId ?? activeTraceId();
    const log = this.logger.child({
      jobId: data.jobId,
      model: data.model.name,
      version: data.model.version,
      attempt: job.attemptsMade + 1,
      ...(traceId ? { traceId } : {}),
    });
    const report = (stage: JobStage) => progress.enter(stage);
    const key = specKey(data.model);

    stages.enter('fetch');
    report('fetch');
    const input = await this.blobs.get(data.input.blobKey);
    if (!input) throw giveUp(ErrorCode.InputExpired, 'The uploaded image expired before a worker could take the job.');

    const inferenceAttributes = (batchSize: number): Attributes => {
      const provider = this.pool.executionProvider(key);
      return {
        'fathom.model': data.model.name,
        'fathom.model.version': data.model.version,
        'fathom.model.variant': data.model.variant ?? '',
        'fathom.batch.size': batchSize,
        ...(provider ? { 'fathom.execution_provider': provider } : {}),
        'fathom.input.width': data.input.width,
        'fathom.input.height': data.input.height,
        'fathom.input.bytes': input.byteLength,
      };
    };
    const onStage: StageListener = (stage, detail) => {
      stages.enter(stage, stage === 'inference' ? () => inferenceAttributes(detail?.batchSize ?? 1) : undefined);
      report(stage);
    };
    const { jobContext } = stages;
    let output;
    try {
      // Stage messages arrive on the inference thread's message handler, outside the job's context:
      // put it back so the progress and its log lines belong to the job's trace.
      output = await this.pool.run(
        key,
        input,
        data.options,
        jobContext ? (stage, detail) => context.with(jobContext, onStage, undefined, stage, detail) : onStage,
      );
    } catch (error) {
      if (error instanceof InferenceError && !error.retryable) {
        log.info({ msg: 'job refused', code: error.code, reason: error.message });
        throw giveUp(error.code, error.message);
      }
      log.warn({ msg: 'attempt failed; will retry if attempts remain', error: (error as Error).message });
      const code = error instanceof FathomError ? error.code : ErrorCode.InferenceFailed;
      throw new Error(formatFailureReason({ code, message: (error as Error).message }), { cause: error });
    }

    stages.enter('store');
    report('store');
    const artifacts = await Promise.all(
      output.artifacts.map(async (artifact) => {
        const blobKey = this.blobs.resultKey(data.jobId, artifact.name);
        await this.blobs.put(blobKey, Buffer.from(artifact.bytes.buffer, artifact.bytes.byteOffset, artifact.bytes.byteLength));
        const { name, contentType, width, height, extension } = artifact;
        return {
          name,
          blobKey,
          contentType,
          bytes: artifact.bytes.byteLength,
          width,
          height,
          filename: artifactName(data, name, extension),
        };
      }),
    );
    stages.end();
    const queueWait = Math.max(0, (job.processedOn ?? Date.now()) - job.timestamp);
    const total = Math.max(0, Date.now() - data.submittedAt);
    const result: InferenceResult = {
      primary: output.primary,
      artifacts,
      summary: output.summary,
      timings: roundTimings({ queueWait, ...output.timings, total }),
      model: { name: data.model.name, version: data.model.version, variant: data.model.variant },
      executionProvider: output.executionProvider,
      workerId: this.workerId,
    };
    this.metrics.jobCompleted(labels, total / 1000, output.timings);
    log.info({ msg: 'job completed', timings: result.timings, executionProvider: result.executionProvider });
    return result;
  }
}

/** Milliseconds to 0.1 ms: finer digits are noise in a status document. */
function roundTimings<T extends Record<string, number>>(timings: T): T {
  return Object.fromEntries(Object.entries(timings).map(([stage, ms]) => [stage, Math.round(ms * 10) / 10])) as T;
}

function giveUp(code: ErrorCode, message: string): UnrecoverableError {
  return new UnrecoverableError(formatFailureReason({ code, message }));
}

/** `photo.jpg` → `photo.overlay.png`; no name → `<job id>.overlay.png`. */
export function artifactName(data: Pick<InferenceJobData, 'jobId' | 'input'>, artifact: string, extension: string): string {
  const stem = data.input.filename ? basename(data.input.filename, extname(data.input.filename)).replace(/[\\/\0]/g, '_') : '';
  return `${stem || data.jobId}.${artifact}.${extension}`;
}
