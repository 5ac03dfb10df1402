import type {
  InferenceJobData,
  InputFeatures,
  OutputFeatures,
  PredictionPurpose,
  PredictionRecord,
  PredictionStatus,
} from '@fathom/contracts';

/** Why a job ran, from its data: an evaluation's sample, an image profiled for a drift reference, or a client's job. */
export function predictionPurpose(data: Pick<InferenceJobData, 'evaluation' | 'purpose'>): PredictionPurpose {
  if (data.evaluation !== undefined) return 'evaluation';
  return data.purpose ?? 'production';
}

/** How a job ended, as its prediction record tells it. */
export interface JobOutcome {
  status: PredictionStatus;
  /** ms since the epoch */
  finishedAt: number;
  errorCode?: string;
  timings?: Record<string, number>;
  executionProvider?: string;
  input?: InputFeatures;
  output?: OutputFeatures;
}

/** A finished job's record for the prediction log, from the job's data (the contract every version of it upgrades to) and its outcome. */
export function predictionRecord(data: InferenceJobData, outcome: JobOutcome): PredictionRecord {
  return {
    jobId: data.jobId,
    finishedAt: new Date(outcome.finishedAt).toISOString(),
    submittedAt: Number.isFinite(data.submittedAt) ? new Date(data.submittedAt).toISOString() : null,
    model: data.model.name,
    version: data.model.version,
    variant: data.model.variant ?? null,
    route: data.model.route ?? 'pinned',
    task: data.task,
    keyId: data.keyId ?? null,
    status: outcome.status,
    errorCode: outcome.errorCode ?? null,
    timings: outcome.timings ?? null,
    executionProvider: outcome.executionProvider ?? null,
    traceId: data.traceId ?? null,
    inputFeatures: outcome.input ?? null,
    outputFeatures: outcome.output ?? null,
    evaluationId: data.evaluation?.id ?? null,
    purpose: predictionPurpose(data),
  };
}
