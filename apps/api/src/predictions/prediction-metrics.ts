import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { FeedbackRating } from '@fathom/contracts';
import { PredictionStream } from '@fathom/queue';
import { METRICS_REGISTRY } from '../metrics/metrics.registry';

/**
 * The prediction log's metrics (docs/metrics.md, Prediction log): what this instance wrote, and —
 * read from Redis at scrape time, the same on every instance — what waits in the stream and what
 * its bound dropped (max by () across instances in queries and alerts); and the feedback owners gave.
 */
@Injectable()
export class PredictionMetrics {
  private readonly written: Counter<never>;
  private readonly writeFailures: Counter<never>;
  private readonly invalid: Counter<never>;
  private readonly deleted: Counter<'model'>;
  private readonly feedback: Counter<'model' | 'version' | 'rating'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry, @Inject(PredictionStream) stream: PredictionStream) {
    const registers = [registry];
    this.written = new Counter({
      name: 'fathom_predictions_written_total',
      help: 'Prediction-log records this API instance wrote to PostgreSQL.',
      registers,
    });
    this.writeFailures = new Counter({
      name: 'fathom_prediction_write_failures_total',
      help: 'Batches of prediction-log records PostgreSQL did not take (they stay in the Redis stream and are retried).',
      registers,
    });
    this.invalid = new Counter({
      name: 'fathom_predictions_invalid_total',
      help: 'Stream entries that did not read as a prediction record (removed, with a warning naming the entry).',
      registers,
    });
    this.deleted = new Counter({
      name: 'fathom_predictions_deleted_total',
      help: "Prediction-log rows this API instance deleted as older than their model's retention.",
      labelNames: ['model'] as const,
      registers,
    });
    this.feedback = new Counter({
      name: 'fathom_feedback_total',
      help: "Feedback taken from jobs' owners (POST /v1/jobs/:id/feedback), by the rated job's model version and the rating; a changed mind counts again.",
      labelNames: ['model', 'version', 'rating'] as const,
      registers,
    });
    new Gauge({
      name: 'fathom_prediction_buffer_records',
      help: 'Prediction-log records waiting in Redis for PostgreSQL (all instances together; read at scrape time).',
      registers,
      async collect() {
        this.set(await stream.length());
      },
    });
    new Gauge({
      name: 'fathom_prediction_buffer_capacity_records',
      help: 'The most records the stream holds (PREDICTION_BUFFER); beyond it the oldest are dropped.',
      registers,
    }).set(stream.capacity);
    // A counter whose value is kept in Redis for the whole cluster: every instance reports the same
    // total (queries take max() across instances before increase()).
    new Counter({
      name: 'fathom_predictions_dropped_total',
      help: 'Prediction-log records dropped before reaching PostgreSQL: stage="stream", pushed out of the full Redis stream (cluster-wide, read at scrape time); workers count stage="worker".',
      labelNames: ['stage'] as const,
      registers,
      async collect() {
        this.reset();
        this.inc({ stage: 'stream' }, await stream.dropped());
      },
    });
  }

  recordsWritten(count: number): void {
    this.written.inc(count);
  }

  writeFailed(): void {
    this.writeFailures.inc();
  }

  recordsInvalid(count: number): void {
    this.invalid.inc(count);
  }

  expiredRowsDeleted(model: string, count: number): void {
    this.deleted.inc({ model }, count);
  }

  /** Feedback stored on a job's row: the labels are the row's (the version that answered). */
  feedbackGiven(model: string, version: string, rating: FeedbackRating): void {
    this.feedback.inc({ model, version, rating });
  }
}
