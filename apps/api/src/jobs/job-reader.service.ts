import { Inject, Injectable } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import type { Job } from 'bullmq';
import {
  ErrorCode,
  FathomError,
  inferenceResultSchema,
  jobProgressSchema,
  parseFailureReason,
  upgradeInferenceResult,
  type Artifact,
  type InferenceJobData,
  type InferenceResult,
  type JobState,
  type JobStatus,
} from '@fathom/contracts';
import { JobRecordStore, type JobRecord } from '@fathom/queue';
import { BlobStore } from '@fathom/storage';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { QueueRegistry } from '../queues/queue.registry';
import { jobLinks } from './job-links';
import { resultView } from './result-view';

type InferenceJob = Job<InferenceJobData, InferenceResult>;

export interface JobSnapshot {
  record: JobRecord;
  job: InferenceJob | null;
  status: JobStatus;
}

const BULLMQ_STATES: Record<string, JobState> = {
  waiting: 'queued',
  prioritized: 'queued',
  delayed: 'queued', // waiting for a retry after a transient failure
  'waiting-children': 'queued',
  active: 'active',
  completed: 'completed',
  failed: 'failed',
};

/** Reads a job's public status and result from its record, its BullMQ job and the blob store. */
@Injectable()
export class JobReader {
  constructor(
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(JobRecordStore) private readonly records: JobRecordStore,
    @Inject(QueueRegistry) private readonly queues: QueueRegistry,
    @Inject(BlobStore) private readonly blobs: BlobStore,
  ) {}

  async record(jobId: string): Promise<JobRecord> {
    const record = await this.records.get(jobId);
    if (!record) throw new FathomError(ErrorCode.JobNotFound, `No job with id "${jobId}".`);
    return record;
  }

  async snapshot(jobId: string): Promise<JobSnapshot> {
    // The request's span (GET, DELETE, result) names the job it is about; the URL alone is not searchable.
    trace.getActiveSpan()?.setAttribute('fathom.job.id', jobId);
    const record = await this.record(jobId);
    if (record.cancelledAt !== undefined) return { record, job: null, status: this.cancelledStatus(record) };
    const queue = this.queues.queue(record.queue);
    // State first, then the job: a job read after its state is at least as far along, so a
    // `completed` state always comes with its return value.
    const bullState = await queue.getJobState(jobId);
    const job = (await queue.getJob(jobId)) as InferenceJob | undefined;
    if (!job || bullState === 'unknown' || this.isPastRetention(job)) throw this.expired(jobId);
    const state = BULLMQ_STATES[bullState] ?? 'queued';
    return { record, job, status: this.toStatus(record, job, state) };
  }

  async status(jobId: string): Promise<JobStatus> {
    return (await this.snapshot(jobId)).status;
  }

  /** An artifact of a completed job (its primary one unless named), or the error a client should see. */
  async result(jobId: string, name?: string): Promise<{ bytes: Buffer; artifact: Artifact }> {
    const { status, job } = await this.snapshot(jobId);
    if (status.state === 'failed') {
      throw new FathomError(ErrorCode.JobFailed, `The job failed (${status.error?.code}): there is no result.`, { error: status.error });
    }
    if (status.state === 'cancelled') throw new FathomError(ErrorCode.JobNotFound, 'The job was cancelled: there is no result.');
    if (status.state !== 'completed' || !job) {
      throw new FathomError(ErrorCode.ResultNotReady, `The result is not ready: the job is ${status.state}.`, { state: status.state, progress: status.progress });
    }
    const parsed = inferenceResultSchema.safeParse(upgradeInferenceResult(job.returnvalue));
    if (!parsed.success) throw new FathomError(ErrorCode.Internal, 'This job’s result was written in a format this version cannot read.');
    const result = parsed.data;
    const wanted = name ?? result.primary;
    const artifact = result.artifacts.find((a) => a.name === wanted);
    if (!artifact) {
      throw new FathomError(ErrorCode.ArtifactNotFound, `This job has no "${wanted}" artifact.`, { artifacts: result.artifacts.map((a) => a.name) });
    }
    const bytes = await this.blobs.get(artifact.blobKey);
    if (!bytes) throw this.expired(jobId);
    return { bytes, artifact };
  }

  toStatus(record: JobRecord, job: InferenceJob, state: JobState): JobStatus {
    const result = state === 'completed' ? inferenceResultSchema.safeParse(upgradeInferenceResult(job.returnvalue)) : null;
    const completed = result?.success ? result.data : null;
    const progress = jobProgressSchema.safeParse(job.progress);
    return {
      id: record.id,
      state,
      progress: state === 'completed' ? { stage: 'store', percent: 100 } : progress.success ? progress.data : null,
      model: record.model,
      timestamps: {
        createdAt: new Date(record.createdAt).toISOString(),
        startedAt: job.processedOn ? new Date(job.processedOn).toISOString() : null,
        finishedAt: job.finishedOn && (state === 'completed' || state === 'failed') ? new Date(job.finishedOn).toISOString() : null,
      },
      timings: completed?.timings ?? null,
      executionProvider: completed?.executionProvider ?? null,
      attempts: job.attemptsMade,
      traceId: record.traceId ?? null,
      result: completed ? resultView(record.id, completed) : null,
      error: state === 'failed' ? parseFailureReason(job.failedReason) : null,
      links: jobLinks(record.id),
    };
  }

  private cancelledStatus(record: JobRecord): JobStatus {
    return {
      id: record.id,
      state: 'cancelled',
      progress: null,
      model: record.model,
      timestamps: {
        createdAt: new Date(record.createdAt).toISOString(),
        startedAt: null,
        finishedAt: record.cancelledAt ? new Date(record.cancelledAt).toISOString() : null,
      },
      timings: null,
      executionProvider: null,
      attempts: 0,
      traceId: record.traceId ?? null,
      result: null,
      error: null,
      links: jobLinks(record.id),
    };
  }

  /** BullMQ removes finished jobs lazily; past retention they are gone to clients either way. */
  private isPastRetention(job: InferenceJob): boolean {
    return job.finishedOn !== undefined && Date.now() - job.finishedOn > this.config.STORAGE_RETENTION_SECONDS * 1000;
  }

  private expired(jobId: string): FathomError {
    return new FathomError(
      ErrorCode.JobExpired,
      `Job "${jobId}" has expired: inputs, results and status are kept for ${this.config.STORAGE_RETENTION_SECONDS} s.`,
    );
  }
}
