import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, FathomError, feedbackRequestSchema, type FeedbackRequest, type FeedbackResponse } from '@fathom/contracts';
import { PredictionStore, type PredictionRow } from '@fathom/database';
import { JobReader } from '../jobs/job-reader.service';
import { PredictionMetrics } from './prediction-metrics';

/**
 * How long a finished job's feedback waits for its row (ms between looks, 4.5 s in all): the
 * worker appends its record within a second of the job's end and an ingester writes it within
 * another, so a client that rates a result as soon as it sees it is answered, not told to retry.
 */
const ROW_WAITS_MS = [100, 200, 400, 800, 1_000, 1_000, 1_000];
/** What a client is told to wait when the log is further behind than that (after a PostgreSQL outage). */
const RETRY_AFTER_SECONDS = 2;

/**
 * Feedback on a job from its owner (issue 15): stored on the job's row in the prediction log, so it
 * sits beside the model version, the features and the outcome it rates.
 */
@Injectable()
export class FeedbackService {
  private readonly logger = new Logger(FeedbackService.name);

  constructor(
    @Inject(PredictionStore) private readonly store: PredictionStore,
    @Inject(JobReader) private readonly reader: JobReader,
    @Inject(PredictionMetrics) private readonly metrics: PredictionMetrics,
  ) {}

  /**
   * Stores `body` as the job's feedback (the last sent wins). Another key's job or none: 404
   * job_not_found, as GET /v1/jobs/:id answers; not finished: 409 result_not_ready; finished but
   * not in the log within the wait: 503 prediction_not_logged with Retry-After — never dropped unsaid.
   */
  async give(jobId: string, keyId: string, body: unknown): Promise<FeedbackResponse> {
    const feedback = parseFeedback(body);
    // The row is the truth once it is there, also after the job's status has expired from Redis.
    const row = (await this.store.setFeedback(jobId, keyId, feedback)) ?? (await this.giveOnceLogged(jobId, keyId, feedback));
    const stored = row.feedback!;
    this.metrics.feedbackGiven(row.model, row.version, stored.rating);
    this.logger.log({ msg: 'feedback', jobId, keyId, rating: stored.rating, model: row.model, version: row.version });
    return { jobId: row.jobId, model: { name: row.model, version: row.version }, feedback: stored };
  }

  private async giveOnceLogged(jobId: string, keyId: string, feedback: FeedbackRequest): Promise<PredictionRow> {
    // Whose the job is and whether it ended, as the job's status tells it (404 / 410 from the reader).
    const { status } = await this.reader.snapshot(jobId, undefined, keyId);
    if (status.state === 'queued' || status.state === 'active') {
      throw new FathomError(
        ErrorCode.ResultNotReady,
        `The job is ${status.state}: feedback is taken once it has finished; send it after job.completed (or job.failed).`,
        { state: status.state },
      );
    }
    for (const ms of ROW_WAITS_MS) {
      await sleep(ms);
      const row = await this.store.setFeedback(jobId, keyId, feedback);
      if (row) return row;
    }
    throw new FathomError(
      ErrorCode.PredictionNotLogged,
      `The job has finished, but its record has not reached the prediction log yet; nothing was stored: send the feedback again in ${RETRY_AFTER_SECONDS} s.`,
      { state: status.state },
      RETRY_AFTER_SECONDS,
    );
  }
}

/** The body, or 400 invalid_request with a message naming each field that is wrong and how. */
export function parseFeedback(body: unknown): FeedbackRequest {
  const parsed = feedbackRequestSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(({ path, message }) => `${path.length > 0 ? path.join('.') : 'body'}: ${message}`);
  throw new FathomError(
    ErrorCode.InvalidRequest,
    `${problems.join('; ')}. Send JSON {"rating": "up" | "down", "comment"?: text up to 2000 characters, "correction"?: any JSON up to 64 KiB}.`,
    parsed.error.issues.map(({ path, message }) => ({ path, message })),
  );
}
