import { z } from 'zod';
import { jobFailureSchema } from './error-codes';
import { jobProgressSchema } from './job-progress';
import { jobLinksSchema, jobStatusSchema, resultViewSchema } from './job-status';

/** socket.io namespace for job events. */
export const JOBS_NAMESPACE = '/jobs';

/** Client → server. */
export const subscribeRequestSchema = z.object({ jobId: z.string().min(1).max(200) });
export type SubscribeRequest = z.infer<typeof subscribeRequestSchema>;

export const WsEvent = {
  Subscribe: 'subscribe',
  Unsubscribe: 'unsubscribe',
  State: 'job.state',
  Progress: 'job.progress',
  Completed: 'job.completed',
  Failed: 'job.failed',
  Cancelled: 'job.cancelled',
  Error: 'job.error',
} as const;

export const jobProgressEventSchema = z.object({ jobId: z.string(), progress: jobProgressSchema });
export const jobCompletedEventSchema = z.object({
  jobId: z.string(),
  links: jobLinksSchema,
  result: resultViewSchema,
});
export const jobFailedEventSchema = z.object({ jobId: z.string(), error: jobFailureSchema });
export const jobCancelledEventSchema = z.object({ jobId: z.string() });
export const jobErrorEventSchema = z.object({ jobId: z.string().optional(), error: jobFailureSchema });

export type JobProgressEvent = z.infer<typeof jobProgressEventSchema>;
export type JobCompletedEvent = z.infer<typeof jobCompletedEventSchema>;
export type JobFailedEvent = z.infer<typeof jobFailedEventSchema>;
export type JobCancelledEvent = z.infer<typeof jobCancelledEventSchema>;
export type JobErrorEvent = z.infer<typeof jobErrorEventSchema>;

/** Server → client events, as socket.io's typed `ServerToClientEvents`. */
export interface JobServerEvents {
  'job.state': (status: z.infer<typeof jobStatusSchema>) => void;
  'job.progress': (event: JobProgressEvent) => void;
  'job.completed': (event: JobCompletedEvent) => void;
  'job.failed': (event: JobFailedEvent) => void;
  'job.cancelled': (event: JobCancelledEvent) => void;
  'job.error': (event: JobErrorEvent) => void;
}

/** Client → server events. The ack returns the job's current status, or an error. */
export interface JobClientEvents {
  subscribe: (
    request: SubscribeRequest,
    ack?: (reply: { ok: true; status: z.infer<typeof jobStatusSchema> } | { ok: false; error: z.infer<typeof jobFailureSchema> }) => void,
  ) => void;
  unsubscribe: (request: SubscribeRequest) => void;
}
