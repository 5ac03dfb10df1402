import { TERMINAL_STATES, type JobStatus } from '@fathom/contracts';

/**
 * How long a client waits before sending again, from a Retry-After header: delta-seconds or an
 * HTTP date (RFC 9110); `fallbackMs` when the header is absent or unreadable.
 */
export function retryAfterMs(header: string | undefined, now: number, fallbackMs = 1_000): number {
  if (header === undefined || header.trim() === '') return fallbackMs;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1_000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? fallbackMs : Math.max(0, at - now);
}

/**
 * How many times the workers ran each job to its end, from their JSON log lines: the worker logs
 * `"msg":"job completed"` with the job's id once per run that finished (a run killed midway logs nothing).
 */
export function completionsByJob(outputs: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const output of outputs)
    for (const line of output.split('\n')) {
      if (!line.includes('"msg":"job completed"')) continue;
      const { jobId } = JSON.parse(line) as { jobId?: string };
      if (jobId !== undefined) counts.set(jobId, (counts.get(jobId) ?? 0) + 1);
    }
  return counts;
}

/** Failure messages counted by their first line, cut at 80 characters: why runs failed and were retried. */
export function countReasons(messages: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const message of messages) {
    const line = message.split('\n')[0]!.trim();
    const reason = line.length > 80 ? `${line.slice(0, 80)}…` : line;
    counts[reason] = (counts[reason] ?? 0) + 1;
  }
  return counts;
}

/** What GET /v1/jobs/:id answered for an accepted job once the run was over. */
export interface FinalAnswer {
  httpStatus: number;
  status?: Pick<JobStatus, 'state' | 'stalls' | 'attempts' | 'error' | 'timestamps'>;
}

/** One SIGKILL: when, and the jobs BullMQ showed the killed worker holding just before. */
export interface KillRecord {
  at: number;
  held: string[];
}

export interface SoakTally {
  accepted: number;
  completed: number;
  failedByCode: Record<string, number>;
  cancelled: number;
  /** Accepted, then gone (404, 410) or never at an end by the end of the run. */
  lost: { total: number; gone: number; neverEnded: number; ids: string[] };
  /** Ran more than once by their status: lost a worker (stalls > 0) or retried after a failure (attempts > 1). */
  ranMoreThanOnce: number;
  stalled: number;
  /** Runs that failed and were retried (attempts beyond the first and the stalls), over all jobs. */
  retriedAfterFailure: number;
  /**
   * Runs the workers finished, by their logs: all of them, jobs finished twice or more, jobs the
   * client never had accepted, and completed jobs with no such line (a worker SIGKILLed within
   * milliseconds of logging it: the line never reached its stdout).
   */
  workerCompletions: { total: number; jobsCompletedTwice: number; unknownJobs: number; completedUnlogged: number };
  /** Kill → the next start (status's startedAt) of each job the killed worker held, in ms. */
  recoveryMs: number[];
  /** Jobs held at a kill that were not measured: they ended before the kill landed, or lost a worker again later. */
  heldNotMeasured: { endedBeforeKill: number; stalledAgain: number };
}

/** The soak's outcome from what a client and the workers' logs can see. */
export function tallySoak(input: {
  accepted: string[];
  finals: Map<string, FinalAnswer>;
  completions: Map<string, number>;
  kills: KillRecord[];
}): SoakTally {
  const { accepted, finals, completions, kills } = input;
  const tally: SoakTally = {
    accepted: accepted.length,
    completed: 0,
    failedByCode: {},
    cancelled: 0,
    lost: { total: 0, gone: 0, neverEnded: 0, ids: [] },
    ranMoreThanOnce: 0,
    stalled: 0,
    retriedAfterFailure: 0,
    workerCompletions: { total: 0, jobsCompletedTwice: 0, unknownJobs: 0, completedUnlogged: 0 },
    recoveryMs: [],
    heldNotMeasured: { endedBeforeKill: 0, stalledAgain: 0 },
  };
  const lose = (id: string, kind: 'gone' | 'neverEnded') => {
    tally.lost[kind]++;
    tally.lost.total++;
    if (tally.lost.ids.length < 10) tally.lost.ids.push(id);
  };
  for (const id of accepted) {
    const answer = finals.get(id);
    const status = answer?.status;
    if (!answer || !status) {
      lose(id, answer?.httpStatus === 404 || answer?.httpStatus === 410 ? 'gone' : 'neverEnded');
      continue;
    }
    if (status.stalls > 0) tally.stalled++;
    if (status.stalls > 0 || status.attempts > 1) tally.ranMoreThanOnce++;
    // A completed job's last run ended too; a failed one's last failure is its end, not a retry.
    tally.retriedAfterFailure += Math.max(0, status.attempts - status.stalls - 1);
    if (!TERMINAL_STATES.includes(status.state)) lose(id, 'neverEnded');
    else if (status.state === 'completed') {
      tally.completed++;
      if (!completions.has(id)) tally.workerCompletions.completedUnlogged++;
    } else if (status.state === 'cancelled') tally.cancelled++;
    else {
      const code = status.error?.code ?? 'unknown';
      tally.failedByCode[code] = (tally.failedByCode[code] ?? 0) + 1;
    }
  }
  const known = new Set(accepted);
  for (const [id, count] of completions) {
    tally.workerCompletions.total += count;
    if (!known.has(id)) tally.workerCompletions.unknownJobs++;
    else if (count > 1) tally.workerCompletions.jobsCompletedTwice++;
  }
  for (const kill of kills)
    for (const id of kill.held) {
      const status = finals.get(id)?.status;
      if (!status) continue; // lost: counted above
      const startedAt = status.timestamps.startedAt ? Date.parse(status.timestamps.startedAt) : undefined;
      if (status.stalls === 0 || startedAt === undefined || startedAt < kill.at) tally.heldNotMeasured.endedBeforeKill++;
      // Its startedAt is the start after its last stall, not after this kill.
      else if (status.stalls > 1) tally.heldNotMeasured.stalledAgain++;
      else tally.recoveryMs.push(startedAt - kill.at);
    }
  return tally;
}
