import { trace } from '@opentelemetry/api';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import {
  ErrorCode,
  formatFailureReason,
  inferenceJobDataSchema,
  parseFailureReason,
  upgradeJobData,
  type InferenceJobData,
  type InferenceResult,
} from '@fathom/contracts';
import { jobRuns, type InFlightStore } from '@fathom/queue';
import { KEY_ID_ATTRIBUTE } from '@fathom/telemetry';
import { JobExecutionService, type QueueModel } from '../jobs/job-execution.service';
import { JobProgressReporter } from '../jobs/job-progress.reporter';
import { JobStageTracker } from '../jobs/job-stage.tracker';
import { isFinalFailure, JobError } from '../jobs/job.errors';
import { modelLabels, type WorkerMetrics } from '../metrics/worker.metrics';
import type { PredictionLog } from '../predictions/prediction-log';
import { JobStageSpans } from '../tracing/job-stage.spans';

/**
 * The BullMQ adapter: parse the job with the contract's schema, hand the attempt to the
 * job-execution service, report its stages as progress, return the typed result. A failure no
 * retry can fix throws UnrecoverableError (never retried); any other throws normally so BullMQ
 * retries with backoff. When tracing, each stage is a child span of BullMQ's consumer span.
 */
export class InferenceProcessor {
  constructor(
    private readonly execution: JobExecutionService,
    private readonly metrics: WorkerMetrics,
    private readonly logger: Logger,
    /** Where the API counts each key's jobs in flight: an ended job gives its place back. */
    private readonly inFlight: InFlightStore,
    /** The prediction log: a record per job once BullMQ has recorded its end. */
    private readonly predictions?: Pick<PredictionLog, 'ended'>,
  ) {}

  async process(job: Job<InferenceJobData, InferenceResult>, model: QueueModel): Promise<InferenceResult> {
    const stages = new JobStageTracker(modelLabels(model), {
      progress: new JobProgressReporter(job, (error) =>
        this.logger.warn({ msg: 'progress not reported', jobId: job.id, error: error.message }),
      ),
      spans: JobStageSpans.underActiveSpan(),
      metrics: this.metrics,
    });
    // attemptsMade counts the attempts before this one: BullMQ adds this one when it records the outcome.
    const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const takenAt = job.processedOn ?? Date.now();
    // The job's span (BullMQ's consumer span) names the key that submitted it.
    if (job.data.keyId !== undefined) trace.getActiveSpan()?.setAttribute(KEY_ID_ATTRIBUTE, job.data.keyId);
    try {
      const parsed = inferenceJobDataSchema.safeParse(upgradeJobData(job.data));
      if (!parsed.success) throw new JobError(ErrorCode.InvalidRequest, 'The job data does not match the contract.', false);
      return await this.execution.execute({
        data: parsed.data,
        model,
        // Runs lost with a dead worker count too, as in the job's status (they do not use up attempts).
        number: jobRuns(job).attempts + 1,
        enqueuedAt: job.timestamp,
        takenAt,
        // A retry's due time is not kept by BullMQ (a promoted job's delay is reset to 0): first attempts only.
        ...(job.attemptsMade === 0 && job.attemptsStarted <= 1 && job.processedOn
          ? { firstWaitMs: Math.max(0, job.processedOn - job.timestamp - (job.opts.delay ?? 0)) }
          : {}),
        stages,
      });
    } catch (error) {
      const thrown = forBullMQ(error);
      stages.failed(thrown, parseFailureReason(thrown.message).code, isFinalFailure(error, last));
      throw thrown;
    } finally {
      await stages.end();
    }
  }

  /** BullMQ has recorded that the job will not run again (completed, or failed with no retry to come). */
  async ended(job: EndedJob): Promise<void> {
    const jobId = job.data.jobId ?? job.id ?? '';
    this.predictions?.ended(job);
    const { keyId } = job.data;
    const blobKey = job.data.input?.blobKey;
    await Promise.all([
      blobKey ? this.execution.jobEnded({ jobId, blobKey }) : undefined,
      // Not given back (Redis down): the API's heal drops it once the key looks full.
      keyId
        ? this.inFlight
            .ended(keyId, { id: jobId, queue: job.queueName })
            .catch((error: Error) => this.logger.warn({ msg: 'in-flight place not given back', jobId, keyId, error: error.message }))
        : undefined,
    ]);
  }
}

/** A job as BullMQ's outcome events hand it over: where its input is (every version of the job data names it) and its key, when it has one. */
interface EndedJob {
  id?: string;
  queueName: string;
  data: { jobId?: string; keyId?: string; input?: { blobKey?: string } };
  /** What the prediction log reads: when it ended, and how. */
  finishedOn?: number;
  failedReason?: string;
  returnvalue?: unknown;
}

/** A known failure as BullMQ keeps it (`[code] message`), unrecoverable when no retry can help; anything else as it is. */
function forBullMQ(error: unknown): Error {
  if (error instanceof JobError) {
    return error.retryable ? new Error(error.reason, { cause: error }) : new UnrecoverableError(error.reason);
  }
  if (error instanceof Error) return error;
  return new Error(formatFailureReason({ code: ErrorCode.Internal, message: String(error) }));
}
