import { basename, extname } from 'node:path';
import type { Attributes } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { ErrorCode, FathomError, type InferenceJobData, type InferenceResult, type TaskName } from '@fathom/contracts';
import { specKey } from '@fathom/models';
import type { BlobStore } from '@fathom/storage';
import { activeTraceId } from '@fathom/telemetry';
import { InferenceError, StageTimeoutError, type InferencePool } from '../inference/inference.pool';
import type { RunOutput } from '../inference/thread-protocol';
import { modelLabels, type WorkerMetrics } from '../metrics/worker.metrics';
import type { PredictionLog } from '../predictions/prediction-log';
import { JobError } from './job.errors';
import type { JobStageTracker } from './job-stage.tracker';

/** The model a queue serves, as its manifest names it: what the job's metrics are labelled with. */
export interface QueueModel {
  name: string;
  version: string;
  variant?: string;
  task: TaskName;
}

/** One attempt at a job, as the queue hands it over. */
export interface JobAttempt {
  data: InferenceJobData;
  model: QueueModel;
  /** 1 for the first attempt. */
  number: number;
  /** When the job was enqueued and when this attempt was taken (ms since the epoch). */
  enqueuedAt: number;
  takenAt: number;
  /** How long a first attempt waited in the queue (ms); undefined on a retry, whose due time is not known. */
  firstWaitMs?: number;
  stages: JobStageTracker;
}

/**
 * Runs one attempt at a job: reads the input, runs it on an inference thread, stores the
 * artifacts and returns the result. Known failures are thrown as JobError (code, retryable).
 *
 * The input is deleted once the job will not run again (`jobEnded`), and only after BullMQ has
 * recorded that: the consumer calls it from BullMQ's `completed` event, and from `failed` when no
 * retry follows. Deleting it before would turn a worker killed between the delete and BullMQ's
 * record into an accepted job lost: BullMQ runs the stalled job again, and its input is gone. A
 * worker killed after the record leaves the input to expire with the retention time.
 */
export class JobExecutionService {
  constructor(
    private readonly pool: InferencePool,
    private readonly blobs: BlobStore,
    private readonly workerId: string,
    private readonly logger: Logger,
    private readonly metrics: WorkerMetrics,
    /** Where a run's features wait for the job's end to be recorded (the prediction log). */
    private readonly predictions?: Pick<PredictionLog, 'note'>,
  ) {}

  async execute(attempt: JobAttempt): Promise<InferenceResult> {
    const { data } = attempt;
    if (attempt.firstWaitMs !== undefined) this.metrics.jobTaken(modelLabels(attempt.model), attempt.firstWaitMs / 1000);
    // Every line names the job's trace id — the one in its status, set by the API — even when this
    // worker traces and the API did not (the logger's mixin then leaves the bound id alone).
    const traceId = data.traceId ?? activeTraceId();
    const log = this.logger.child({
      jobId: data.jobId,
      keyId: data.keyId,
      model: data.model.name,
      version: data.model.version,
      attempt: attempt.number,
      ...(traceId ? { traceId } : {}),
    });
    return this.run(attempt, log);
  }

  private async run(attempt: JobAttempt, log: Logger): Promise<InferenceResult> {
    const { data, stages } = attempt;
    // Checked once, when the job is taken: a job already running when its deadline passes runs to the end.
    if (data.deadline !== undefined && attempt.takenAt > data.deadline) {
      log.info({ msg: 'job dropped: its deadline passed while it was queued', deadline: new Date(data.deadline).toISOString() });
      throw new JobError(
        ErrorCode.DeadlineExceeded,
        `The job's deadline (${new Date(data.deadline).toISOString()}) passed before a worker could take it; it was not run.`,
        false,
      );
    }
    stages.enter('fetch');
    const input = await this.blobs.get(data.input.blobKey).catch((error: unknown) => this.storeFailed(error, 'input not read', log));
    if (!input) throw new JobError(ErrorCode.InputExpired, 'The uploaded image expired before a worker could take the job.', false);
    const key = specKey(data.model);
    stages.describeInference((batchSize): Attributes => {
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
    });
    let output: RunOutput;
    try {
      output = await this.pool.run(key, input, data.options, stages, data.input.width * data.input.height, {
        raw: data.evaluation !== undefined,
      });
    } catch (error) {
      if (error instanceof InferenceError && !error.retryable) {
        log.info({ msg: 'job refused', code: error.code, reason: error.message });
        throw new JobError(error.code, error.message, false, { cause: error });
      }
      if (error instanceof StageTimeoutError) {
        this.metrics.stageTimedOut(modelLabels(attempt.model), error.stage);
        log.warn({ msg: 'stage timed out; will retry if attempts remain', stage: error.stage, limitMs: error.limitMs });
      } else {
        log.warn({ msg: 'attempt failed; will retry if attempts remain', error: (error as Error).message });
      }
      const code = error instanceof FathomError ? error.code : ErrorCode.InferenceFailed;
      throw new JobError(code, (error as Error).message, true, { cause: error });
    }

    if (output.features.skipped) this.metrics.predictionFeaturesSkipped(modelLabels(attempt.model), output.features.skipped);
    this.predictions?.note(data.jobId, output.features);
    stages.enter('store');
    const artifacts = await Promise.all(
      output.artifacts.map(async (artifact) => {
        const blobKey = this.blobs.resultKey(data.jobId, artifact.name);
        await this.blobs
          .put(blobKey, Buffer.from(artifact.bytes.buffer, artifact.bytes.byteOffset, artifact.bytes.byteLength))
          .catch((error: unknown) => this.storeFailed(error, 'result not stored', log));
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
    const queueWait = Math.max(0, attempt.takenAt - attempt.enqueuedAt);
    const total = Math.max(0, Date.now() - data.submittedAt);
    stages.completed(total / 1000);
    const result: InferenceResult = {
      primary: output.primary,
      artifacts,
      summary: output.summary,
      timings: roundTimings({ queueWait, ...stages.timings, total }),
      model: { name: data.model.name, version: data.model.version, variant: data.model.variant },
      executionProvider: output.executionProvider,
      workerId: this.workerId,
    };
    log.info({ msg: 'job completed', timings: result.timings, executionProvider: result.executionProvider });
    return result;
  }

  /**
   * The object store failed: the attempt fails and BullMQ retries it with backoff (an input that
   * cannot be read now is not an expired one).
   */
  private storeFailed(error: unknown, what: string, log: Logger): never {
    log.warn({ msg: `${what}; will retry if attempts remain`, error: (error as Error).message });
    const code = error instanceof FathomError ? error.code : ErrorCode.StoreUnavailable;
    throw new JobError(code, (error as Error).message, true, { cause: error });
  }

  /**
   * The job will not run again, as BullMQ has recorded (completed, or failed with no retry to
   * come): its input is not needed. A failed delete only logs (the sweeper or lifecycle rule removes it later).
   */
  async jobEnded(job: { jobId: string; blobKey: string }): Promise<void> {
    await this.blobs
      .delete(job.blobKey)
      .catch((error: Error) => this.logger.warn({ msg: 'input not deleted', jobId: job.jobId, error: error.message }));
  }
}

/** Milliseconds to 0.1 ms: finer digits are noise in a status document. */
function roundTimings<T extends Record<string, number>>(timings: T): T {
  return Object.fromEntries(Object.entries(timings).map(([stage, ms]) => [stage, Math.round(ms * 10) / 10])) as T;
}

/** `photo.jpg` → `photo.overlay.png`; no name → `<job id>.overlay.png`. */
export function artifactName(data: Pick<InferenceJobData, 'jobId' | 'input'>, artifact: string, extension: string): string {
  const stem = data.input.filename ? basename(data.input.filename, extname(data.input.filename)).replace(/[\\/\0]/g, '_') : '';
  return `${stem || data.jobId}.${artifact}.${extension}`;
}
