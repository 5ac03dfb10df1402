import type { Logger } from 'pino';
import { inferenceJobDataSchema, parseInferenceResult, upgradeJobData } from '@fathom/contracts';
import { jobFailure, predictionRecord, type JobOutcome, type PredictionWriter } from '@fathom/queue';
import type { PredictionFeatures } from '../inference/thread-protocol';
import type { WorkerMetrics } from '../metrics/worker.metrics';

/** A finished job as BullMQ's outcome events hand it over. */
export interface EndedJob {
  id?: string;
  data: unknown;
  finishedOn?: number;
  failedReason?: string;
  returnvalue?: unknown;
  stalledCounter?: number;
}

/** Features kept between a job's run and BullMQ's record of its end; past this many, the oldest go (a job whose end was never seen). */
const MAX_NOTED = 10_000;

/**
 * The worker's side of the prediction log (issue 15, ADR 0017): a job's features are noted when its
 * run returns, and its record is made when BullMQ has recorded its end (completed, or failed with
 * no retry to come), then handed to the writer, which batches records into the Redis stream off
 * the job path. Nothing here waits on or fails a job.
 */
export class PredictionLog {
  private readonly noted = new Map<string, PredictionFeatures>();

  constructor(
    private readonly writer: PredictionWriter,
    private readonly metrics: WorkerMetrics,
    private readonly logger: Logger,
  ) {}

  /** The features a run computed, kept until the job's end is recorded. */
  note(jobId: string, features: PredictionFeatures): void {
    this.noted.delete(jobId);
    this.noted.set(jobId, features);
    if (this.noted.size > MAX_NOTED) this.noted.delete(this.noted.keys().next().value!);
  }

  /** BullMQ has recorded the job's end: its record goes to the writer. */
  ended(job: EndedJob): void {
    try {
      const parsed = inferenceJobDataSchema.safeParse(upgradeJobData(job.data));
      if (!parsed.success) {
        this.metrics.predictionNotLogged();
        this.logger.warn({ msg: 'finished job not logged: its data does not match the contract', jobId: job.id });
        return;
      }
      const data = parsed.data;
      const features = this.noted.get(data.jobId) ?? {};
      this.noted.delete(data.jobId);
      this.writer.add(predictionRecord(data, { ...outcomeOf(job), input: features.input, output: features.output }));
    } catch (error) {
      // A record that cannot be made must not reach BullMQ's event handler.
      this.metrics.predictionNotLogged();
      this.logger.warn({ msg: 'finished job not logged', jobId: job.id, error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** Hands what is buffered to Redis, waiting at most `timeoutMs`; resolves with the records left behind. */
  async close(timeoutMs = 5_000): Promise<number> {
    return this.writer.close(timeoutMs);
  }
}

function outcomeOf(job: EndedJob): Omit<JobOutcome, 'input' | 'output'> {
  const finishedAt = job.finishedOn ?? Date.now();
  const result = job.returnvalue === undefined || job.returnvalue === null ? undefined : parseInferenceResult(job.returnvalue);
  if (result && !job.failedReason) {
    return { status: 'completed', finishedAt, timings: result.timings, executionProvider: result.executionProvider };
  }
  return { status: 'failed', finishedAt, errorCode: jobFailure(job.failedReason, job.stalledCounter).code };
}
