import {
  WsEvent,
  type InferenceResult,
  type JobCancelledEvent,
  type JobCompletedEvent,
  type JobFailedEvent,
  type JobFailure,
  type JobStatus,
} from '@fathom/contracts';
import { jobLinks } from '../jobs/job-links';
import { resultView } from '../jobs/result-view';

export function completedEvent(jobId: string, result: InferenceResult): JobCompletedEvent {
  return { jobId, links: jobLinks(jobId), result: resultView(jobId, result) };
}

export function failedEvent(jobId: string, error: JobFailure): JobFailedEvent {
  return { jobId, error };
}

export function cancelledEvent(jobId: string): JobCancelledEvent {
  return { jobId };
}

type TerminalEvent =
  | { event: typeof WsEvent.Completed; payload: JobCompletedEvent }
  | { event: typeof WsEvent.Failed; payload: JobFailedEvent }
  | { event: typeof WsEvent.Cancelled; payload: JobCancelledEvent };

/** The event a subscriber would have received had it listened when the job ended. */
export function terminalEventOf(status: JobStatus, result: InferenceResult | null): TerminalEvent | null {
  switch (status.state) {
    case 'completed':
      return result ? { event: WsEvent.Completed, payload: completedEvent(status.id, result) } : null;
    case 'failed':
      return status.error ? { event: WsEvent.Failed, payload: failedEvent(status.id, status.error) } : null;
    case 'cancelled':
      return { event: WsEvent.Cancelled, payload: cancelledEvent(status.id) };
    default:
      return null;
  }
}
