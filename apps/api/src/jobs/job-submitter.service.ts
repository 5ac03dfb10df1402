import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { context, trace } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  ErrorCode,
  EVALUATION_JOB_PRIORITY,
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
import { BlobStore, BlobStoreUnavailableError, BlobTooLargeError } from '@fathom/storage';
import { activeTraceId, KEY_ID_ATTRIBUTE, newTraceId } from '@fathom/telemetry';
import type { Principal } from '../auth/principal';
import { inSpan } from '../common/tracing';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { QueueRegistry } from '../infrastructure/queue.registry';
import { effectiveLimits } from '../limits/key-limits';
import { ApiMetrics } from '../metrics/api-metrics';
import type { ResolvedModel } from '../models/catalog/model-resolver';
import { ServedModelsService } from '../models/catalog/served-models.service';
import { parseDeadline } from './uploads/deadline';
import { ImageInspector, type InspectedHeader, type InspectedImage } from './uploads/image-inspector';
import { imageTooLarge, type IncomingImage } from './uploads/incoming-image';
import { readTracedUploadForm, type UploadForm } from './uploads/upload-form.reader';
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

/**
 * An upload up to this long is held and inspected whole (header, then a small test decode); a
 * longer one's header is read from this much of its start while the rest streams on to the store,
 * so an upload never costs the API more memory than this. Every malformed sample in
 * ../shared/fixtures/bad is shorter; 20 uploads at once hold 20 MiB, not 20 whole files.
 */
export const INSPECT_WHOLE_BYTES = 1024 * 1024;

/**
 * What the fields sent before the image named, checked as it arrived (no Idempotency-Key: a replay
 * is answered before anything else): the model resolved then, once for the submission (or why it
 * could not be), and whether its queue was full.
 */
interface Arrival {
  reference: string;
  variant: string | undefined;
  resolution: { resolved: ResolvedModel } | { error: unknown };
  /** Why the image is not worth storing: the model cannot be resolved, or its queue is full. */
  refusal?: unknown;
}

/**
 * The image part once it went by: stored at the job's input key, or why not. Either way its length
 * and SHA-256 (the Idempotency-Key fingerprint's), counted as it passed.
 */
type ReceivedImage = { filename: string | undefined; bytes: number; sha256: string; arrival?: Arrival } & (
  | { outcome: 'stored'; header: InspectedHeader }
  /** Not an image we take (format, pixels, broken data): said after the model's and options' errors, as always. */
  | { outcome: 'refused'; error: unknown }
  /** The store failed while it streamed: said where writing the input fails, after admission. */
  | { outcome: 'store-failed'; header: InspectedHeader; error: unknown }
  /**
   * Read and dropped: the submission was bound to be refused when the image arrived (Arrival's
   * refusal). Said in its turn: at the model's resolution, or at the queue-depth check.
   */
  | { outcome: 'not-stored'; header: InspectedHeader; error: unknown }
);

/** One sample of an evaluation run, as the runner hands it over (submitEvaluationJob). */
export interface EvaluationJobRequest {
  /** Chosen (and written to the run's record) by the runner before the job is queued: queuing it again is a no-op. */
  jobId: string;
  /** name@version, the version the run was resolved to once: every sample runs on it. */
  reference: string;
  variant: string | undefined;
  image: Buffer;
  filename: string;
  /** Task options over the model's defaults (classification: topK 5 for top-5). */
  options: Record<string, unknown>;
  /** Who started the run: the jobs are theirs (GET /v1/jobs/:id). */
  keyId: string;
  evaluation: { id: string; sample: number };
}

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
   * Reads the upload form of `request` and queues its job. The image streams to the job's input
   * key while it arrives (receive), whatever the order of the form's parts; whatever refuses the
   * submission after that — a field sent after the image, the model, the key's quota, an
   * Idempotency-Key replay — deletes it again, so a refused upload leaves nothing in the store.
   *
   * `principal`: who submits — the job's owner (its Idempotency-Keys are its own) and whose quota
   * of jobs in flight it counts against. `deadlineHeader`: the X-Deadline header, the other way to
   * send the form's `deadline`.
   */
  async submit(
    request: FastifyRequest,
    principal: Principal,
    idempotencyKey: string | undefined,
    deadlineHeader?: string,
  ): Promise<Submission> {
    const jobId = randomUUID();
    const blobKey = this.blobs.inputKey(jobId);
    let stored = false;
    // The image's spans beside `read upload`, under the request's, not inside it.
    const requestContext = context.active();
    try {
      const form = await readTracedUploadForm(request, this.maxUploadBytes, (image, fieldsBefore) =>
        context.with(requestContext, async () => {
          const early = idempotencyKey === undefined ? fieldsBefore : {};
          const received = await this.receive(image, jobId, blobKey, early);
          stored = received.outcome === 'stored';
          return received;
        }),
      );
      const submission = await this.submitForm(jobId, form, principal, idempotencyKey, deadlineHeader);
      if (submission.replayed && stored) await this.dropInput(jobId, blobKey); // the earlier job has its own
      return submission;
    } catch (error) {
      if (stored) await this.dropInput(jobId, blobKey);
      throw error;
    }
  }

  /**
   * Inspects the image from its head (INSPECT_WHOLE_BYTES; the whole file where its header is not
   * all there), then streams it whole to `blobKey`: a refused image is read and dropped, never
   * stored. Throws only what ends the form (past the upload limit, the client gone).
   */
  private async receive(
    image: IncomingImage,
    jobId: string,
    blobKey: string,
    fieldsBefore: Readonly<Record<string, string>>,
  ): Promise<ReceivedImage> {
    let header: InspectedHeader;
    try {
      header = await inSpan('inspect image', async (span) => {
        const { head, whole } = await image.peek(INSPECT_WHOLE_BYTES);
        // The header not all in the head (WebP, GIF, some TIFFs): that file is read whole, as all were before.
        const inspected =
          (await this.inspector.inspect(head, whole)) ?? (await this.inspector.inspect((await image.peek(this.maxUploadBytes)).head));
        span.setAttributes({
          'fathom.image.format': inspected.format,
          'fathom.image.width': inspected.width,
          'fathom.image.height': inspected.height,
        });
        return inspected;
      });
    } catch (error) {
      if (!(error instanceof FathomError) || error.code === ErrorCode.ImageTooLarge) throw error;
      await image.discard();
      return { outcome: 'refused', error, filename: image.filename, ...image.digest() };
    }
    const arrival = await this.atArrival(fieldsBefore);
    if (arrival?.refusal) {
      // Under overload (or for a model not served) uploads are not written to the store only to be deleted again.
      await image.discard();
      return { outcome: 'not-stored', header, error: arrival.refusal, arrival, filename: image.filename, ...image.digest() };
    }
    try {
      await inSpan(
        'store input',
        async (span) => {
          const { bytes } = await this.blobs.putStream(blobKey, image.stream(), { maxBytes: this.maxUploadBytes });
          span.setAttribute('fathom.image.bytes', bytes);
        },
        { 'fathom.job.id': jobId },
      );
    } catch (error) {
      if (error instanceof BlobTooLargeError) throw imageTooLarge(this.maxUploadBytes);
      if (!(error instanceof BlobStoreUnavailableError)) throw error;
      await image.discard();
      return { outcome: 'store-failed', header, error, arrival, filename: image.filename, ...image.digest() };
    }
    return { outcome: 'stored', header, arrival, filename: image.filename, ...image.digest() };
  }

  /**
   * Resolves the model the fields sent before the image name, and counts its queue (Arrival);
   * undefined when they name none. A count that fails is left to the queue-depth check.
   */
  private async atArrival(fields: Readonly<Record<string, string>>): Promise<Arrival | undefined> {
    const { model: reference } = fields;
    if (!reference) return undefined;
    const variant = fields.variant || undefined;
    let resolved: ResolvedModel;
    try {
      resolved = await this.models.resolve(reference, variant);
    } catch (error) {
      return { reference, variant, resolution: { error }, refusal: error };
    }
    const waiting = await this.waitingJobs(resolved.model).catch(() => undefined);
    const full = waiting !== undefined && waiting >= this.config.API_MAX_QUEUE_DEPTH;
    return { reference, variant, resolution: { resolved }, ...(full ? { refusal: this.queueFull(resolved.model, waiting) } : {}) };
  }

  /** Jobs waiting in the model's queue (waiting, prioritized, delayed, paused): what API_MAX_QUEUE_DEPTH bounds. */
  private waitingJobs(model: KnownModel): Promise<number> {
    return this.queues.queue(model.queue).getJobCountByTypes('waiting', 'prioritized', 'delayed', 'paused');
  }

  private queueFull(model: KnownModel, waiting: number): FathomError {
    return new FathomError(
      ErrorCode.QueueFull,
      `The queue for ${queueModelKey(model.queue)} is full (${waiting} jobs waiting). Retry after the Retry-After seconds.`,
      undefined,
      this.config.API_RETRY_AFTER_SECONDS,
    );
  }

  /** Deletes the input of a submission that did not become a job; one left behind is swept at the retention's end. */
  private async dropInput(jobId: string, blobKey: string): Promise<void> {
    await this.blobs
      .delete(blobKey)
      .catch((e: Error) => this.logger.warn({ msg: 'input of a job not queued left in the store', jobId, error: e.message }));
  }

  /** The form's checks, in the order they have always been made, then the job. */
  private async submitForm(
    jobId: string,
    form: UploadForm<ReceivedImage>,
    principal: Principal,
    idempotencyKey: string | undefined,
    deadlineHeader: string | undefined,
  ): Promise<Submission> {
    const { keyId } = principal;
    const { model: reference } = form;
    if (!reference) throw new FathomError(ErrorCode.MissingField, 'The `model` field is missing. See GET /v1/models.', { field: 'model' });
    const deadline = parseDeadline({ field: form.deadline, header: deadlineHeader }, Date.now(), this.config.STORAGE_RETENTION_SECONDS);
    checkPurpose(form.purpose, principal);
    if (idempotencyKey === undefined) return this.accept(jobId, form, reference, deadline, principal);

    // The key is checked first: a retry gets its job back even if the model stopped being served since.
    const key = IDEMPOTENCY_KEY.safeParse(idempotencyKey);
    if (!key.success) throw new FathomError(ErrorCode.InvalidRequest, 'The Idempotency-Key header must be 1–255 characters.');
    const fingerprint = fingerprintOf(form);
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
    form: UploadForm<ReceivedImage>,
    reference: string,
    deadline: number | undefined,
    principal: Principal,
  ): Promise<Submission> {
    // The image was inspected as it arrived; a bad model or bad options are still reported before a bad image.
    const { model, route } = await this.resolve(reference, form);
    const options = this.parseOptions(model, form.options);
    if (form.image.outcome === 'refused') throw form.image.error;
    const image: InspectedImage = { ...form.image.header, bytes: form.image.bytes };
    const jobModel = jobModelOf(model, route);
    const traceId = await this.enqueue(jobId, model, jobModel, options, form, image, deadline, principal);
    return {
      accepted: { id: jobId, state: 'queued', model: jobModel, links: jobLinks(jobId) },
      replayed: false,
      queue: model.queue,
      traceId,
    };
  }

  /** The model and route: those resolved when the image arrived, for the same fields (Arrival), else resolved now. */
  private async resolve(reference: string, form: UploadForm<ReceivedImage>): Promise<ResolvedModel> {
    const arrival = form.image.arrival;
    if (!arrival || arrival.reference !== reference || arrival.variant !== form.variant)
      return this.models.resolve(reference, form.variant);
    if ('error' in arrival.resolution) throw arrival.resolution.error;
    return arrival.resolution.resolved;
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
    form: UploadForm<ReceivedImage>,
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
      ...(form.purpose === 'reference' ? { purpose: 'reference' } : {}),
    } as InferenceJobData; // options were parsed with this task's schema above
    // Admission first: a refused upload writes nothing to Redis (under overload, refused inputs
    // written and taken back again were most of Redis's traffic). The limit is soft: submissions
    // admitted at the same moment may each see the last free place. (The input itself streamed to
    // the object store as it arrived; a refusal deletes it again, in submit.)
    if (form.image.outcome === 'not-stored') throw form.image.error; // its queue was full when it arrived: not stored
    const waiting = await this.waitingJobs(model).catch((error: unknown) => Promise.reject(this.notQueued(error)));
    if (waiting >= this.config.API_MAX_QUEUE_DEPTH) throw this.queueFull(model, waiting);
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
      // The input is in the store already (receive), unless the store failed under it.
      if (form.image.outcome === 'store-failed') throw form.image.error;
      await this.records.create(record);
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
      // The input goes in submit, with that of every other refusal.
      await Promise.allSettled([this.records.delete(jobId), this.inFlight.ended(principal.keyId, inFlightJob)]);
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

  /**
   * Queues one sample of an evaluation run (issue 14) exactly as a user's job runs — the same
   * queue, workers, decoding and session — with two differences: a lower BullMQ priority, so a user
   * job waiting behind it goes first, and the `evaluation` mark, for which the worker also returns
   * the raw output the metrics need. The run's own window of jobs in flight bounds it, not the key's
   * quota. Queuing the same jobId twice (a run resumed after a restart) queues it once.
   */
  async submitEvaluationJob(request: EvaluationJobRequest): Promise<void> {
    const { jobId, keyId } = request;
    const { model } = await this.models.resolve(request.reference, request.variant);
    const header = await this.inspector.inspect(request.image);
    let options: TaskOptions;
    try {
      options = parseTaskOptions(model.task, { ...model.defaults, ...request.options });
    } catch (error) {
      throw new FathomError(ErrorCode.InvalidOptions, `Invalid evaluation options for the ${model.task} task.`, undefined, undefined, {
        cause: error,
      });
    }
    const waiting = await this.waitingJobs(model).catch((error: unknown) => Promise.reject(this.notQueued(error)));
    if (waiting >= this.config.API_MAX_QUEUE_DEPTH) throw this.queueFull(model, waiting);
    const blobKey = this.blobs.inputKey(jobId);
    const now = Date.now();
    const jobModel = jobModelOf(model, 'pinned');
    const traceId = activeTraceId() ?? newTraceId();
    const filename = request.filename.slice(0, 255);
    const data = {
      jobId,
      task: model.task,
      model: jobModel,
      options,
      input: { blobKey, bytes: request.image.length, format: header.format, width: header.width, height: header.height, filename },
      submittedAt: now,
      traceId,
      keyId,
      evaluation: request.evaluation,
    } as InferenceJobData; // options were parsed with this task's schema above
    const record = { id: jobId, queue: model.queue, model: data.model, createdAt: now, filename, traceId, keyId };
    try {
      await this.blobs.put(blobKey, request.image);
      await this.records.create(record);
      await this.queues.queue(model.queue).add(INFERENCE_JOB_NAME, data, {
        ...inferenceJobOptions(jobId, {
          attempts: this.config.API_JOB_ATTEMPTS,
          backoffMs: this.config.API_JOB_BACKOFF_MS,
          retentionSeconds: this.config.STORAGE_RETENTION_SECONDS,
        }),
        priority: EVALUATION_JOB_PRIORITY,
      });
    } catch (error) {
      await Promise.allSettled([this.records.delete(jobId), this.blobs.delete(blobKey)]);
      throw this.notQueued(error);
    }
    this.reader.remember(record);
    this.metrics.jobSubmitted(model, 'pinned', { ...header, bytes: request.image.length });
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

/**
 * The `purpose` field: only `reference` (an image profiled for a drift reference, `npm run drift --
 * reference <folder>`), and only from a models:admin key, since it keeps the job out of what drift watches.
 */
function checkPurpose(purpose: string | undefined, principal: Principal): void {
  if (purpose === undefined) return;
  if (purpose !== 'reference')
    throw new FathomError(ErrorCode.InvalidRequest, `Unknown purpose "${purpose}": send purpose=reference, or leave the field out.`, {
      field: 'purpose',
    });
  if (principal.authenticated && !principal.scopes.includes('models:admin'))
    throw new FathomError(ErrorCode.Forbidden, 'purpose=reference needs a key with the models:admin scope.', { field: 'purpose' });
}

/** What the client asked for, not what it was routed to: a retry must match even when a canary split sends it elsewhere. */
function fingerprintOf(form: UploadForm<ReceivedImage>): string {
  // The image by its SHA-256 (counted as it streamed): the bytes themselves are never all in memory.
  return (
    createHash('sha256')
      // `purpose` only when sent, so the fingerprints of requests without it are what they always were.
      .update(`${form.model}\n${form.variant ?? ''}\n${form.options ?? ''}\n${form.image.sha256}${form.purpose ? `\n${form.purpose}` : ''}`)
      .digest('hex')
  );
}
