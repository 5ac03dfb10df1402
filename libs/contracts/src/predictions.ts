import { z } from 'zod';
import { MAX_REFERENCE_ROWS } from './drift';
import { inputFeaturesSchema, outputFeaturesSchema } from './prediction-features';

/**
 * The prediction log (issue 15): one record per finished job, written by whoever saw it end — the
 * worker (completed, failed) or the API (cancelled while queued) — to a Redis stream, and from
 * there by the API into PostgreSQL (ADR 0017). Times are ISO 8601.
 */
export const predictionStatusSchema = z.enum(['completed', 'failed', 'cancelled']);
export type PredictionStatus = z.infer<typeof predictionStatusSchema>;

/**
 * Why a job ran: `production` (a client's job), `evaluation` (a sample of an evaluation run) or
 * `reference` (an image profiled for a drift reference). Drift compares production only.
 */
export const predictionPurposeSchema = z.enum(['production', 'evaluation', 'reference']);
export type PredictionPurpose = z.infer<typeof predictionPurposeSchema>;

const isoTime = z.iso.datetime({ offset: true });

export const predictionRecordSchema = z.object({
  jobId: z.string().min(1),
  finishedAt: isoTime,
  submittedAt: isoTime.nullable(),
  model: z.string().min(1),
  version: z.string().min(1),
  variant: z.string().nullable(),
  /** How the job chose its version: stable, canary or pinned. */
  route: z.string(),
  task: z.string(),
  keyId: z.string().nullable(),
  status: predictionStatusSchema,
  errorCode: z.string().nullable(),
  /** Milliseconds per stage, as in the job's status. */
  timings: z.record(z.string(), z.number()).nullable(),
  executionProvider: z.string().nullable(),
  traceId: z.string().nullable(),
  inputFeatures: inputFeaturesSchema.nullable(),
  outputFeatures: outputFeaturesSchema.nullable(),
  /** Set on an evaluation's jobs (purpose `evaluation`). */
  evaluationId: z.string().nullable(),
  purpose: predictionPurposeSchema,
});
export type PredictionRecord = z.infer<typeof predictionRecordSchema>;

export const feedbackRatingSchema = z.enum(['up', 'down']);
export type FeedbackRating = z.infer<typeof feedbackRatingSchema>;

/** The most a correction may weigh, as JSON. */
export const MAX_CORRECTION_BYTES = 64 * 1024;

/** POST /v1/jobs/:id/feedback */
export const feedbackRequestSchema = z
  .object({
    rating: feedbackRatingSchema,
    comment: z.string().max(2000).optional(),
    /** What the right answer was, in any JSON shape the client likes (a label, boxes, a note), up to 64 KiB. */
    correction: z
      .unknown()
      .optional()
      .refine((value) => value === undefined || JSON.stringify(value).length <= MAX_CORRECTION_BYTES, {
        message: `a correction may be at most ${MAX_CORRECTION_BYTES} bytes of JSON`,
      }),
  })
  .strict();
export type FeedbackRequest = z.infer<typeof feedbackRequestSchema>;

/** Feedback as stored on a job's row: the last the job's owner sent. */
export const storedFeedbackSchema = z.object({
  rating: feedbackRatingSchema,
  comment: z.string().nullable(),
  correction: z.unknown(),
  /** When it was last sent. */
  at: isoTime,
  /** The key that sent it (the job's owner). */
  by: z.string(),
});
export type StoredFeedback = z.infer<typeof storedFeedbackSchema>;

/** POST /v1/jobs/:id/feedback answers the feedback as stored, with the model version it rates. */
export const feedbackResponseSchema = z.object({
  jobId: z.string(),
  model: z.object({ name: z.string(), version: z.string() }),
  feedback: storedFeedbackSchema,
});
export type FeedbackResponse = z.infer<typeof feedbackResponseSchema>;

/**
 * Where a model version's drift reference comes from (PUT /v1/admin/models/:name/versions/:version/drift-reference):
 * an evaluation run's samples, jobs profiled for it (`npm run drift -- reference <folder>`), or a
 * time window of the version's own production log ("its first 7 days").
 */
export const driftReferenceSourceSchema = z.union([
  z.object({ evaluation: z.string().min(1) }).strict(),
  z.object({ jobs: z.array(z.string().min(1)).min(1).max(MAX_REFERENCE_ROWS) }).strict(),
  z
    .object({ from: isoTime, to: isoTime })
    .strict()
    .refine((w) => new Date(w.from) < new Date(w.to), { message: '`from` must be before `to`' }),
  z.object({ firstDays: z.number().positive().max(365) }).strict(),
]);
export type DriftReferenceSource = z.infer<typeof driftReferenceSourceSchema>;
