import { z } from 'zod';
import { jobFailureSchema } from './error-codes';
import { jobProgressSchema } from './job-progress';
import { denseMapSummarySchema } from './tasks';
import { executionProviderSchema, stageTimingsSchema } from './job-result';

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
export const jobAcceptedSchema = z.object({
  id: z.string(),
  state: jobStateSchema,
  links: jobLinksSchema,
});
export type JobAccepted = z.infer<typeof jobAcceptedSchema>;

/** GET /v1/jobs/:id, and the payload of the `job.state` WebSocket event. */
export const jobStatusSchema = z.object({
  id: z.string(),
  state: jobStateSchema,
  progress: jobProgressSchema.nullable(),
  model: z.object({ name: z.string(), version: z.string(), task: z.string() }),
  timestamps: z.object({
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  }),
  timings: stageTimingsSchema.nullable(),
  executionProvider: executionProviderSchema.nullable(),
  attempts: z.number().int().nonnegative(),
  result: z
    .object({
      contentType: z.string(),
      bytes: z.number().int(),
      width: z.number().int(),
      height: z.number().int(),
      summary: denseMapSummarySchema,
    })
    .nullable(),
  error: jobFailureSchema.nullable(),
  links: jobLinksSchema,
});
export type JobStatus = z.infer<typeof jobStatusSchema>;
