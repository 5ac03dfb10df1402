import { Inject, Injectable } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import type { Job } from 'bullmq';
import {
  artifactNameSchema,
  ErrorCode,
  FathomError,
  jobProgressSchema,
  parseInferenceResult,
  type Artifact,
  type InferenceJobData,
  type InferenceResult,
  type JobState,
  type JobStatus,
} from '@fathom/contracts';
import { jobFailure, jobRuns, JobRecordStore, type JobRecord } from '@fathom/queue';
import { BlobStore } from '@fathom/storage';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { QueueRegistry } from '../infrastructure/queue.registry';
import { jobLinks } from './job-links';
import { resultView } from './result-view';
import { contentDisposition } from './send-artifact';

type InferenceJob = Job<InferenceJobData, InferenceResult>;

/** The owner of jobs recorded without one (API_AUTH=none's principal). */
const LOCAL_KEY_ID = 'local';

function notFound(jobId: string): FathomError {
  return new FathomError(ErrorCode.JobNotFound, `No job with id "${jobId}".`);
}

export interface JobSnapshot {
  record: JobRecord;
  job: InferenceJob | null;
  status: JobStatus;
  /** A completed job's result, parsed; null otherwise (or when written in a format this version cannot read). */
  result: InferenceResult | null;
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

/** What a job's status says beyond its record: read from its BullMQ job, or nothing for a cancelled one. */
interface StatusParts {
  state: JobState;
  progress: JobStatus['progress'];
  /** ms since the epoch; undefined: not (yet) */
  startedAt: number | undefined;
  finishedAt: number | undefined;
  attempts: number;
  stalls: number;
  completed: InferenceResult | null;
  error: JobStatus['error'];
}

/** The one builder of a job's public status. */
function statusOf(record: JobRecord, parts: StatusParts): JobStatus {
  const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);
  return {
    id: record.id,
    state: parts.state,
    progress: parts.progress,
    model: record.model,
    timestamps: { createdAt: new Date(record.createdAt).toISOString(), startedAt: iso(parts.startedAt), finishedAt: iso(parts.finishedAt) },
    timings: parts.completed?.timings ?? null,
    executionProvider: parts.completed?.executionProvider ?? null,
    attempts: parts.attempts,
    stalls: parts.stalls,
    traceId: record.traceId ?? null,
    deadline: record.deadline !== undefined ? new Date(record.deadline).toISOString() : null,
    result: parts.completed ? resultView(record.id, parts.completed) : null,
    error: parts.error,
    links: jobLinks(record.id),
  };
}

/** Records kept in memory, and for how long: a job is read a few times in its first seconds. */
const RECENT_RECORDS = 10_000;
const RECENT_RECORD_MS = 60_000;

/** Reads a job's public status and result from its record, its BullMQ job and the blob store. */
@Injectable()
export class JobReader {
  /**
   * Records this instance wrote or read lately. A record never changes but to mark a cancellation,
   * and a cancelled job is removed from its queue, which snapshot() notices and reads the record
   * again for; a record marked cancelled is never kept (a cancellation that loses its race is undone).
   */
  private readonly recent = new Map<string, { record: JobRecord; at: number }>();

  constructor(
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(JobRecordStore) private readonly records: JobRecordStore,
    @Inject(QueueRegistry) private readonly queues: QueueRegistry,
    @Inject(BlobStore) private readonly blobs: BlobStore,
  ) {}

  /**
   * `keyId`: the caller's key; a job another key submitted is answered exactly as one that never
   * existed (404 job_not_found), so ids reveal nothing across keys. Undefined: no check (the
   * caller's own job, just submitted).
   */
  async record(jobId: string, keyId?: string): Promise<JobRecord> {
    const recent = this.recent.get(jobId);
    const record = recent && Date.now() - recent.at < RECENT_RECORD_MS ? recent.record : await this.records.get(jobId);
    if (!record || (keyId !== undefined && (record.keyId ?? LOCAL_KEY_ID) !== keyId)) throw notFound(jobId);
    if (record !== recent?.record) this.remember(record);
    return record;
  }

  /** Drops a record about to change (a cancellation). */
  forget(jobId: string): void {
    this.recent.delete(jobId);
  }

  /** Keeps a record just written or read, so the reads that follow a submission skip Redis. */
  remember(record: JobRecord): void {
    this.recent.delete(record.id);
    if (record.cancelledAt !== undefined) return;
    this.recent.set(record.id, { record, at: Date.now() });
    if (this.recent.size > RECENT_RECORDS) this.recent.delete(this.recent.keys().next().value!);
  }

  /** `known`: the job's record when the caller has just read it (one Redis read fewer); `keyId`: as for record(). */
  async snapshot(jobId: string, known?: JobRecord, keyId?: string): Promise<JobSnapshot> {
    // The request's span (GET, DELETE, result) names the job it is about; the URL alone is not searchable.
    trace.getActiveSpan()?.setAttribute('fathom.job.id', jobId);
    const record = known ?? (await this.record(jobId, keyId));
    if (record.cancelledAt !== undefined) return { record, job: null, status: this.cancelledStatus(record), result: null };
    const queue = this.queues.queue(record.queue);
    // State and job are read together (one round trip). A job read before a state that says it
    // ended lacks its return value or failure: read again, so `completed` always comes with its result.
    const [bullState, read] = await Promise.all([queue.getJobState(jobId), queue.getJob(jobId)]);
    const ended = bullState === 'completed' || bullState === 'failed';
    const job = (ended && read?.finishedOn === undefined ? await queue.getJob(jobId) : read) as InferenceJob | undefined;
    if (!job || bullState === 'unknown' || this.isPastRetention(job)) {
      // Cancelled since the record was read: the job is gone because it was removed, not expired.
      const latest = job ? null : await this.records.get(jobId);
      if (latest?.cancelledAt !== undefined) {
        this.forget(jobId);
        return { record: latest, job: null, status: this.cancelledStatus(latest), result: null };
      }
      throw this.expired(jobId);
    }
    const state = BULLMQ_STATES[bullState] ?? 'queued';
    const result = state === 'completed' ? parseInferenceResult(job.returnvalue) : null;
    return { record, job, result, status: this.toStatus(record, job, state, result) };
  }

  async status(jobId: string, keyId?: string): Promise<JobStatus> {
    return (await this.snapshot(jobId, undefined, keyId)).status;
  }

  /** An artifact of a completed job (its primary one unless named), or the error a client should see. */
  /** `known`: a snapshot the caller has just taken. */
  async result(jobId: string, name?: string, known?: JobSnapshot, keyId?: string): Promise<{ bytes: Buffer; artifact: Artifact }> {
    // A named artifact's blob has a known key: it is read with the job's state, not after it, and
    // used only if the job turns out to be completed with that artifact stored under that key.
    const earlyKey = !known && artifactNameSchema.safeParse(name).success ? this.blobs.resultKey(jobId, name!) : null;
    const early = earlyKey === null ? null : this.blobs.get(earlyKey);
    early?.catch(() => undefined); // awaited below only if it is the artifact's blob
    const artifact = this.completedArtifact(known ?? (await this.snapshot(jobId, undefined, keyId)), name);
    const bytes = await (early && artifact.blobKey === earlyKey ? early : this.blobs.get(artifact.blobKey));
    if (!bytes) throw this.expired(jobId);
    return { bytes, artifact };
  }

  /**
   * Where a client may download the artifact itself for `seconds` (the S3 backend's presigned
   * URL), or null where the store has none; the same errors as result().
   */
  async resultUrl(
    jobId: string,
    name: string | undefined,
    keyId: string | undefined,
    seconds: number,
    asAttachment: boolean,
  ): Promise<string | null> {
    const artifact = this.completedArtifact(await this.snapshot(jobId, undefined, keyId), name);
    if (this.blobs.kind !== 's3') return null;
    const url = await this.blobs.presignedGetUrl(artifact.blobKey, seconds, {
      contentType: artifact.contentType,
      ...(asAttachment ? { contentDisposition: contentDisposition(artifact.filename) } : {}),
    });
    if (!url) throw this.expired(jobId);
    return url;
  }

  /** The named (or primary) artifact of a completed job, or the error a client should see. */
  private completedArtifact({ status, job, result }: Pick<JobSnapshot, 'status' | 'job' | 'result'>, name?: string): Artifact {
    if (status.state === 'failed') {
      throw new FathomError(ErrorCode.JobFailed, `The job failed (${status.error?.code}): there is no result.`, { error: status.error });
    }
    if (status.state === 'cancelled') throw new FathomError(ErrorCode.JobNotFound, 'The job was cancelled: there is no result.');
    if (status.state !== 'completed' || !job) {
      throw new FathomError(ErrorCode.ResultNotReady, `The result is not ready: the job is ${status.state}.`, {
        state: status.state,
        progress: status.progress,
      });
    }
    if (!result) throw new FathomError(ErrorCode.Internal, 'This job’s result was written in a format this version cannot read.');
    const wanted = name ?? result.primary;
    const artifact = result.artifacts.find((a) => a.name === wanted);
    if (!artifact) {
      throw new FathomError(ErrorCode.ArtifactNotFound, `This job has no "${wanted}" artifact.`, {
        artifacts: result.artifacts.map((a) => a.name),
      });
    }
    return artifact;
  }

  private toStatus(record: JobRecord, job: InferenceJob, state: JobState, completed: InferenceResult | null): JobStatus {
    const progress = jobProgressSchema.safeParse(job.progress);
    const runs = jobRuns(job);
    return statusOf(record, {
      state,
      progress: state === 'completed' ? { stage: 'store', percent: 100 } : progress.success ? progress.data : null,
      startedAt: job.processedOn,
      finishedAt: state === 'completed' || state === 'failed' ? job.finishedOn : undefined,
      ...runs,
      completed,
      error: state === 'failed' ? jobFailure(job.failedReason, runs.stalls) : null,
    });
  }

  private cancelledStatus(record: JobRecord): JobStatus {
    return statusOf(record, {
      state: 'cancelled',
      progress: null,
      startedAt: undefined,
      finishedAt: record.cancelledAt,
      attempts: 0,
      stalls: 0,
      completed: null,
      error: null,
    });
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
