import { JOBS_NAMESPACE, type JobLinks } from '@fathom/contracts';

export function jobLinks(jobId: string): JobLinks {
  const self = `/v1/jobs/${encodeURIComponent(jobId)}`;
  return { self, result: `${self}/result`, events: JOBS_NAMESPACE };
}
