import { z } from 'zod';
import { modelRouteSchema } from './rollout';
import { jobFailureSchema } from './error-codes';
import { jobProgressSchema } from './job-progress';
import { resultSummarySchema } from './tasks';
import { artifactNameSchema, executionProviderSchema, stageTimingsSchema } from './job-result';

export const jobStateSchema = z.enum(['queued', 'active', 'completed', 'failed', 'cancelled']);
export type JobState = z.infer<typeof jobStateSchema>;

export const TERMINAL_STATES: readonly JobState[] = ['completed', 'failed', 'cancelled'];

export const jobLinksSchema = z.object({
  self: z.string(),
  result: z.string(),
  /** socket.io namespace to connect to, then emit `subscribe` {jobId}. */
  events: z.string(),
});
export type JobLinks = z.infer<typeof jobLinksSchema>;

/** 202 answer to a submission. */
/** The model version a job runs on, and how it was chosen (stable or canary alias, or pinned). */
export const jobModelSchema = z.object({
  name: z.string(),
  version: z.string(),
  task: z.string(),
  variant: z.string().optional(),
  route: modelRouteSchema.optional(),
});

export const jobAcceptedSchema = z.object({
  id: z.string(),
  state: jobStateSchema,
  model: jobModelSchema,
  links: jobLinksSchema,
});
export type JobAccepted = z.infer<typeof jobAcceptedSchema>;

/** One downloadable artifact of a completed job. */
export const artifactViewSchema = z.object({
  name: artifactNameSchema,
  contentType: z.string(),
  bytes: z.number().int(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  /** GET this to download it. */
  url: z.string(),
});
export type ArtifactView = z.infer<typeof artifactViewSchema>;

/** What a client sees of a completed job's result. */
export const resultViewSchema = z.object({
  primary: artifactNameSchema,
  artifacts: z.array(artifactViewSchema),
  summary: resultSummarySchema,
});
export type ResultView = z.infer<typeof resultViewSchema>;

/** GET /v1/jobs/:id, and the payload of the `job.state` WebSocket event. */
export const jobStatusSchema = z.object({
  id: z.string(),
  state: jobStateSchema,
  progress: jobProgressSchema.nullable(),
  model: jobModelSchema,
  timestamps: z.object({
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  }),
  timings: stageTimingsSchema.nullable(),
  executionProvider: executionProviderSchema.nullable(),
  /**
   * Runs of the job that ended: completed, failed (a retried failure counts), or lost because the
   * worker running it died (those are counted in `stalls` too). 0 while the first run is going.
   */
  attempts: z.number().int().nonnegative(),
  /** Runs lost because the worker running the job died (SIGKILL, out of memory): the job ran again on another. */
  stalls: z.number().int().nonnegative(),
  /** Find the job's trace in the trace backend, and its log lines, with this. */
  traceId: z.string().nullable(),
  /** The client's deadline (ISO 8601), after which a job still queued is dropped with `deadline_exceeded`; null: none. */
  deadline: z.string().nullable(),
  result: resultViewSchema.nullable(),
  error: jobFailureSchema.nullable(),
  links: jobLinksSchema,
});
export type JobStatus = z.infer<typeof jobStatusSchema>;
