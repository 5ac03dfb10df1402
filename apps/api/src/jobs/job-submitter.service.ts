import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { z } from 'zod';
import {
  ErrorCode,
  FathomError,
  INFERENCE_JOB_NAME,
  parseTaskOptions,
  queueModelKey,
  type InferenceJobData,
  type JobAccepted,
  type ModelRef,
  type ModelRoute,
  type KnownModel,
  type TaskOptions,
} from '@fathom/contracts';
import { IdempotencyStore, inferenceJobOptions, InFlightStore, JobRecordStore } from '@fathom/queue';
import { BlobStore } from '@fathom/storage';
import { activeTraceId, KEY_ID_ATTRIBUTE, newTraceId } from '@fathom/telemetry';
import type { Principal } from '../auth/principal';
import { inSpan } from '../common/tracing';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { QueueRegistry } from '../infrastructure/queue.registry';
import { effectiveLimits } from '../limits/key-limits';
import { ApiMetrics } from '../metrics/api-metrics';
import { ServedModelsService } from '../models/catalog/served-models.service';
import { parseDeadline } from './uploads/deadline';
import { ImageInspector, type InspectedImage } from './uploads/image-inspector';
import type { UploadForm } from './uploads/upload-form.reader';
import { jobLinks } from './job-links';
import { JobReader } from './job-reader.service';

export interface Submission {
  accepted: JobAccepted;
  /** True when an Idempotency-Key matched an earlier submission. */
  replayed: boolean;
  queue: string;
  /** The job's trace (the X-Trace-Id header); null for jobs queued before trace ids existed. */
  traceId: string | null;
}

const IDEMPOTENCY_KEY = z.string().min(1).max(255);

/** Validates an upload and puts it on its model's queue. Nothing is queued that a worker would refuse. */
@Injectable()
export class JobSubmitter {
  private readonly logger = new Logger(JobSubmitter.name);

  constructor(
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(ServedModelsService) private readonly models: ServedModelsService,
    @Inject(ImageInspector) private readonly inspector: ImageInspector,
    @Inject(QueueRegistry) private readonly queues: QueueRegistry,
    @Inject(BlobStore) private readonly blobs: BlobStore,
    @Inject(JobRecordStore) private readonly records: JobRecordStore,
    @Inject(IdempotencyStore) private readonly idempotency: IdempotencyStore,
    @Inject(InFlightStore) private readonly inFlight: InFlightStore,
    @Inject(JobReader) private readonly reader: JobReader,
    @Inject(ApiMetrics) private readonly metrics: ApiMetrics,
  ) {}

  /** The largest image accepted (API_MAX_UPLOAD_BYTES): the form reader's file limit. */
  get maxUploadBytes(): number {
    return this.config.API_MAX_UPLOAD_BYTES;
  }

  /**
   * `principal`: who submits — the job's owner (its Idempotency-Keys are its own) and whose quota
   * of jobs in flight it counts against. `deadlineHeader`: the X-Deadline header, the other way to
   * send the form's `deadline`.
   */
  async submit(form: UploadForm, principal: Principal, idempotencyKey: string | undefined, deadlineHeader?: string): Promise<Submission> {
    const { keyId } = principal;
    const { model: reference } = form;
    if (!reference) throw new FathomError(ErrorCode.MissingField, 'The `model` field is missing. See GET /v1/models.', { field: 'model' });
    const deadline = parseDeadline({ field: form.deadline, header: deadlineHeader }, Date.now(), this.config.STORAGE_RETENTION_SECONDS);
    const jobId = randomUUID();
    if (idempotencyKey === undefined) return this.accept(jobId, form, reference, deadline, principal);

    // The key is checked first: a retry gets its job back even if the model stopped being served since.
    const key = IDEMPOTENCY_KEY.safeParse(idempotencyKey);
    if (!key.success) throw new FathomError(ErrorCode.InvalidRequest, 'The Idempotency-Key header must be 1–255 characters.');
    const fingerprint = fingerprintOf(form, form.image.bytes);
    const claim = await this.idempotency.claim(keyId, key.data, jobId, fingerprint);
    if (!claim.claimed) {
      if (claim.fingerprint !== fingerprint) {
        throw new FathomError(ErrorCode.IdempotencyKeyConflict, 'This Idempotency-Key was already used for a different request.');
      }
      const { status, record } = await this.reader.snapshot(claim.jobId, undefined, keyId);
      return {
        accepted: { id: status.id, state: status.state, model: status.model, links: status.links },
        replayed: true,
        queue: record.queue,
        traceId: status.traceId,
      };
    }
    try {
      return await this.accept(jobId, form, reference, deadline, principal);
    } catch (error) {
      await this.idempotency.release(keyId, key.data, jobId);
      throw error;
    }
  }

  /** Resolves the model, checks options and image, and queues the job. */
  private async accept(
    jobId: string,
    form: UploadForm,
    reference: string,
    deadline: number | undefined,
    principal: Principal,
  ): Promise<Submission> {
    // The image is inspected (on libuv's threads) while the model is resolved (a Redis read); a bad
    // model or bad options are still reported before a bad image.
    const inspection = inSpan(
      'inspect image',
      async (span) => {
        const inspected = await this.inspector.inspect(form.image.bytes);
        span.setAttributes({
          'fathom.image.format': inspected.format,
          'fathom.image.width': inspected.width,
          'fathom.image.height': inspected.height,
        });
        return inspected;
      },
      { 'fathom.image.bytes': form.image.bytes.length },
    );
    inspection.catch(() => undefined); // awaited below, unless the model or options are refused first
    const { model, route } = await this.models.resolve(reference, form.variant);
    const options = this.parseOptions(model, form.options);
    const image = await inspection;
    const jobModel = jobModelOf(model, route);
    const traceId = await this.enqueue(jobId, model, jobModel, options, form, image, deadline, principal);
    return {
      accepted: { id: jobId, state: 'queued', model: jobModel, links: jobLinks(jobId) },
      replayed: false,
      queue: model.queue,
      traceId,
    };
  }

  private parseOptions(model: KnownModel, raw: string | undefined): TaskOptions {
    let json: unknown = {};
    if (raw !== undefined && raw.trim() !== '') {
      try {
        json = JSON.parse(raw);
      } catch {
        throw new FathomError(
          ErrorCode.InvalidOptions,
          'The `options` field must be a JSON object, e.g. {"output":"colormap","colormap":"turbo"}.',
        );
      }
    }
    try {
      // The manifest's defaults first, then what the client chose.
      const merged = json !== null && typeof json === 'object' && !Array.isArray(json) ? { ...model.defaults, ...json } : json;
      return parseTaskOptions(model.task, merged);
    } catch (error) {
      const issues = error instanceof z.ZodError ? error.issues.map(({ path, message }) => ({ path: path.join('.'), message })) : undefined;
      throw new FathomError(ErrorCode.InvalidOptions, `Invalid options for the ${model.task} task.`, issues);
    }
  }

  private async enqueue(
    jobId: string,
    model: KnownModel,
    jobModel: ModelRef & { route: ModelRoute },
    options: TaskOptions,
    form: UploadForm,
    image: InspectedImage,
    deadline: number | undefined,
    principal: Principal,
  ): Promise<string> {
    const { keyId } = principal;
    const queue = this.queues.queue(model.queue);
    const blobKey = this.blobs.inputKey(jobId);
    const traceId = activeTraceId() ?? newTraceId();
    trace.getActiveSpan()?.setAttributes({
      'fathom.job.id': jobId,
      'fathom.model': model.name,
      'fathom.model.version': model.version,
      [KEY_ID_ATTRIBUTE]: keyId,
    });
    const now = Date.now();
    const filename = form.image.filename?.slice(0, 255);
    const data = {
      jobId,
      task: model.task,
      model: jobModel,
      options,
      input: { blobKey, bytes: image.bytes, format: image.format, width: image.width, height: image.height, filename },
      submittedAt: now,
      ...(deadline !== undefined ? { deadline } : {}),
      traceId,
      keyId,
    } as InferenceJobData; // options were parsed with this task's schema above
    // Admission first: a refused upload writes nothing to Redis (under overload, refused inputs
    // written and taken back again were most of Redis's traffic). The limit is soft: submissions
    // admitted at the same moment may each see the last free place.
    const waiting = await queue
      .getJobCountByTypes('waiting', 'prioritized', 'delayed', 'paused')
      .catch((error: unknown) => Promise.reject(this.notQueued(error)));
    if (waiting >= this.config.API_MAX_QUEUE_DEPTH) {
      throw new FathomError(
        ErrorCode.QueueFull,
        `The queue for ${queueModelKey(model.queue)} is full (${waiting} jobs waiting). Retry after the Retry-After seconds.`,
        undefined,
        this.config.API_RETRY_AFTER_SECONDS,
      );
    }
    // The key's place is taken last, atomically, so that a refusal above leaves its count alone;
    // every failure from here on gives it back.
    const inFlightJob = { id: jobId, queue: model.queue };
    await this.admitForKey(principal, inFlightJob);
    const record = {
      id: jobId,
      queue: model.queue,
      model: data.model,
      createdAt: now,
      filename,
      traceId,
      ...(deadline !== undefined ? { deadline } : {}),
      keyId,
    };
    try {
      await inSpan(
        'store input',
        async () => {
          await Promise.all([this.blobs.put(blobKey, form.image.bytes), this.records.create(record)]);
        },
        { 'fathom.job.id': jobId, 'fathom.image.bytes': image.bytes },
      );
      // With tracing on, BullMQ's producer span (a child of the request's) goes into the job for the worker.
      await queue.add(
        INFERENCE_JOB_NAME,
        data,
        inferenceJobOptions(jobId, {
          attempts: this.config.API_JOB_ATTEMPTS,
          backoffMs: this.config.API_JOB_BACKOFF_MS,
          retentionSeconds: this.config.STORAGE_RETENTION_SECONDS,
        }),
      );
    } catch (error) {
      // Not accepted, so leave nothing behind that would later read as "expired".
      await Promise.allSettled([
        // An upload left behind is swept at the retention's end; said, not silently dropped.
        this.blobs
          .delete(blobKey)
          .catch((e: Error) => this.logger.warn({ msg: 'input of a job not queued left in the store', jobId, error: e.message })),
        this.records.delete(jobId),
        this.inFlight.ended(principal.keyId, inFlightJob),
      ]);
      throw this.notQueued(error);
    }
    this.reader.remember(record);
    this.metrics.jobSubmitted(model, jobModel.route, image);
    this.logger.log({
      // The submitting key's id comes with the request's logger (authentication hook), as on all its lines.
      msg: 'job accepted',
      jobId,
      traceId,
      model: model.name,
      version: model.version,
      variant: model.variant,
      route: jobModel.route,
      bytes: image.bytes,
      width: image.width,
      height: image.height,
    });
    return traceId;
  }

  /** Counts the job against its key's jobs in flight (shared by every instance), or refuses it with 429 quota_exceeded. */
  private async admitForKey(principal: Principal, job: { id: string; queue: string }): Promise<void> {
    const limit = effectiveLimits(principal, this.config).jobsInFlight;
    const admission = await this.inFlight
      .admit(principal.keyId, job, limit)
      .catch((error: unknown) => Promise.reject(this.notQueued(error)));
    if (admission.admitted) return;
    this.metrics.requestLimited(ErrorCode.QuotaExceeded);
    throw new FathomError(
      ErrorCode.QuotaExceeded,
      `${principal.authenticated ? 'This API key has' : 'There are'} ${admission.inFlight} jobs queued or running, ` +
        `the most allowed (${limit}). Wait for one to end (or cancel a queued one), then retry after the Retry-After seconds.`,
      { inFlight: admission.inFlight, limit },
      this.config.API_RETRY_AFTER_SECONDS,
    );
  }

  private notQueued(cause: unknown): FathomError {
    return new FathomError(
      ErrorCode.ServiceUnavailable,
      'The job could not be queued. Retry later.',
      undefined,
      this.config.API_RETRY_AFTER_SECONDS,
      {
        cause,
      },
    );
  }
}

/** The model a job runs on, as its data, record and status name it: the version it was routed to, and how. */
function jobModelOf(model: KnownModel, route: ModelRoute): ModelRef & { route: ModelRoute } {
  return { name: model.name, version: model.version, task: model.task, ...(model.variant ? { variant: model.variant } : {}), route };
}

/** What the client asked for, not what it was routed to: a retry must match even when a canary split sends it elsewhere. */
function fingerprintOf(form: UploadForm, bytes: Buffer): string {
  return createHash('sha256')
    .update(`${form.model}\n${form.variant ?? ''}\n${form.options ?? ''}\n`)
    .update(bytes)
    .digest('hex');
}
