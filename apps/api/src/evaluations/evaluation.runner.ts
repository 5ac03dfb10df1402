import { randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { context, propagation, ROOT_CONTEXT, SpanKind, trace, type Context } from '@opentelemetry/api';
import { ErrorCode, FathomError, FINISHED_EVALUATION_STATES, type KnownModel } from '@fathom/contracts';
import { EvaluationStore, type EvaluationRecord, type PendingSample } from '@fathom/database';
import { latencySummary, SCORERS } from '@fathom/evaluation';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { DatasetsService } from '../datasets/datasets.service';
import { REDIS } from '../infrastructure/redis.providers';
import { RedisLease, redisKeys, type RedisClient, type RedisKeys } from '@fathom/queue';
import { QueueRegistry } from '../infrastructure/queue.registry';
import { JobCanceller } from '../jobs/job-canceller.service';
import { JobReader, type JobSnapshot } from '../jobs/job-reader.service';
import { JobSubmitter } from '../jobs/job-submitter.service';
import { workersServing } from '../models/catalog/model-resolver';
import { ServedModelsService } from '../models/catalog/served-models.service';
import { EvaluationReportWriter, type ReportContext } from './evaluation-report.writer';
import { EvaluationsGateway } from './evaluations.gateway';
import { PREDICTION_ARTIFACT } from '@fathom/evaluation';
import { EVALUATION_OPTIONS, scoreOptionsOf, scoreSample } from './sample-scoring';

/** How long a run's lease outlives its instance (renewed on a timer): another instance resumes it after that. */
const LEASE_MS = 15_000;
/**
 * A run's next pass starts when a job of its queue ends (the queue's event stream, which this
 * instance reads anyway), or after this long at the latest; between looks for runs to drive, CLAIM_MS.
 */
const PASS_MS = 1_000;
const CLAIM_MS = 1_000;
/** How long a run waits for its version to be resolvable again (workers back, the database up) before it fails. */
const STALLED_MS = 10 * 60_000;
/** How often a driven run reads its cancel flag. */
const RECHECK_MS = 1_000;

/**
 * Failures that pass (the database, Redis or the store a moment away; the version's workers not
 * back yet after a restart, or scaled to zero): the run waits and tries again, it is not failed.
 */
const PASSING: readonly string[] = [
  ErrorCode.StoreUnavailable,
  ErrorCode.ServiceUnavailable,
  ErrorCode.ModelNotServed,
  ErrorCode.QueueFull,
];
function isPassing(error: unknown): boolean {
  // A FathomError with another code is the run's own (a model or dataset gone); anything else (a
  // dropped connection, a timeout) is taken as passing.
  return !(error instanceof FathomError) || PASSING.includes(error.code);
}

/** Everything a run needs while it is driven, read once. */
interface Run extends ReportContext {
  record: EvaluationRecord;
  reference: string;
  traceContext: Context;
  /** The version's queue, whose job ends start the next pass. */
  queue: string;
  model: KnownModel;
}

/**
 * Drives evaluation runs (issue 14, ADR 0016). Each run is held by one API instance at a time (a
 * Redis lease), which keeps a window of its samples in flight as ordinary jobs — pinned to the
 * version the run was resolved to, at a lower priority than user jobs — scores each as it ends,
 * and writes the aggregate and the report when none is left. Everything a run knows is in
 * PostgreSQL (a sample's job id is written before its job is queued), so a run whose instance
 * stops is resumed by whichever instance takes the lease next: jobs already queued are waited for,
 * never queued twice.
 */
@Injectable()
export class EvaluationRunner implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(EvaluationRunner.name);
  private readonly owner = randomBytes(8).toString('hex');
  private readonly driving = new Map<string, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** Runs that could not start for a passing reason, since when (STALLED_MS). */
  private readonly waitingSince = new Map<string, number>();
  private readonly keys: RedisKeys;

  constructor(
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(EvaluationStore) private readonly store: EvaluationStore,
    @Inject(DatasetsService) private readonly datasets: DatasetsService,
    @Inject(ServedModelsService) private readonly models: ServedModelsService,
    @Inject(JobSubmitter) private readonly submitter: JobSubmitter,
    @Inject(JobReader) private readonly reader: JobReader,
    @Inject(JobCanceller) private readonly canceller: JobCanceller,
    @Inject(EvaluationReportWriter) private readonly reports: EvaluationReportWriter,
    @Inject(EvaluationsGateway) private readonly gateway: EvaluationsGateway,
    @Inject(QueueRegistry) private readonly queues: QueueRegistry,
  ) {
    this.keys = redisKeys(config.REDIS_PREFIX);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.claim(), CLAIM_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.allSettled(this.driving.values());
  }

  /** Starts driving a run now (just created), rather than at the next look. */
  kick(id: string): void {
    void this.take(id);
  }

  /** Takes the lease of every unfinished run nobody holds. */
  private async claim(): Promise<void> {
    if (this.stopped) return;
    let ids: string[];
    try {
      ids = await this.store.claimable();
    } catch {
      return; // the database is down: try again at the next look
    }
    for (const id of ids) await this.take(id);
  }

  private async take(id: string): Promise<void> {
    if (this.stopped || this.driving.has(id)) return;
    const lease = await RedisLease.take(this.redis, this.keys.evaluationLease(id), this.owner, LEASE_MS);
    if (!lease) return;
    const driven = this.drive(id, lease)
      .catch((error: Error) =>
        this.logger.warn({ msg: 'evaluation run paused by an error; resumed at the next look', evaluationId: id, error: error.message }),
      )
      .finally(async () => {
        this.driving.delete(id);
        await lease.release();
      });
    this.driving.set(id, driven);
  }

  private async drive(id: string, lease: RedisLease): Promise<void> {
    const record = await this.store.find(id);
    if (!record || FINISHED_EVALUATION_STATES.includes(record.state)) return;
    let run: Run;
    try {
      run = await this.prepare(record);
    } catch (error) {
      // Workers not back yet, a database blip: tried again at the next look, for STALLED_MS at most.
      // A model or dataset gone: the run fails at once.
      const since = this.waitingSince.get(id) ?? Date.now();
      this.waitingSince.set(id, since);
      if (isPassing(error) && Date.now() - since < STALLED_MS) throw error;
      this.waitingSince.delete(id);
      await this.finish(record, 'failed', isPassing(error) ? `${messageOf(error)} (for ${STALLED_MS / 60_000} minutes)` : messageOf(error));
      return;
    }
    this.waitingSince.delete(id);
    // Woken when one of its own jobs ends: a run goes as fast as its jobs, not a polling interval,
    // and user jobs ending on the same queue cost it nothing.
    const mine = new Set<string>();
    let wake: () => void = () => undefined;
    const onEnd = ({ jobId }: { jobId: string }) => {
      if (mine.has(jobId)) wake();
    };
    const events = await this.queues.queueEvents(run.queue).catch(() => null);
    events?.on('completed', onEnd);
    events?.on('failed', onEnd);
    const nap = () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, PASS_MS);
        timer.unref();
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    try {
      await this.passes(id, run, lease, mine, nap);
    } finally {
      events?.off('completed', onEnd);
      events?.off('failed', onEnd);
    }
  }

  /**
   * Passes over the run until it ends, its lease is lost or the instance stops. A pass reads the
   * run's jobs in flight and, for the free places of its window, the next samples without a job
   * (two bounded reads), scores the jobs that ended and tops the window up; the cancel flag is read
   * at most every RECHECK_MS. `mine`: the run's jobs in flight, kept for the waker; `nap` waits for
   * one of them to end.
   */
  private async passes(id: string, run: Run, lease: RedisLease, mine: Set<string>, nap: () => Promise<void>): Promise<void> {
    let checkedAt = 0;
    while (!this.stopped && !lease.lost) {
      if (Date.now() - checkedAt >= RECHECK_MS) {
        checkedAt = Date.now();
        const current = await this.store.find(id);
        if (!current || FINISHED_EVALUATION_STATES.includes(current.state)) return;
        if (current.cancelRequested) return this.cancel(run);
      }
      const workers = workersServing(await this.models.liveWorkers(), run.model);
      const window = this.config.API_EVAL_JOBS_PER_WORKER * Math.max(1, workers);
      const { inFlight, next } = await this.store.openSamples(id, window);
      if (inFlight.length === 0 && next.length === 0) return this.complete(run);
      mine.clear();
      for (const s of inFlight) mine.add(s.jobId!);
      const ended = (await Promise.all(inFlight.map((sample) => this.check(run, sample)))).filter(Boolean).length;
      const running = inFlight.length - ended;
      // Yield to users: while a user job waits or runs on the version, no new sample is queued (the
      // run's own jobs are prioritized, never 'waiting'; more active jobs than its own are users').
      const counts = await this.queues
        .queue(run.queue)
        .getJobCounts('waiting', 'active')
        .catch(() => ({ waiting: 0, active: 0 }));
      const usersBusy = (counts.waiting ?? 0) > 0 || (counts.active ?? 0) > running;
      for (const sample of next.slice(0, usersBusy ? 0 : Math.max(0, window - running))) {
        if (lease.lost) return;
        const jobId = randomUUID();
        mine.add(jobId);
        if ((await this.submit(run, sample, jobId)) === 'busy') break;
      }
      if (ended > 0) this.gateway.progress((await this.store.find(id)) ?? null);
      // A sample that ended in this pass frees its place at once; otherwise wait for news.
      if (ended === 0) await nap();
    }
  }

  /** The dataset, the model's version and the run's trace, once per drive. */
  private async prepare(record: EvaluationRecord): Promise<Run> {
    const { record: datasetRecord, dataset, files } = await this.datasets.open(record.datasetId);
    const reference = `${record.modelName}@${record.modelVersion}`;
    const { model } = await this.models.resolve(reference, record.variant ?? undefined);
    const queue = model.queue;
    let traceParent = record.traceParent;
    if (record.state === 'queued') {
      // One trace per run: a span for the run, whose context every sample's job carries (also after a restart).
      const span = trace.getTracer('fathom').startSpan(
        'evaluation',
        {
          kind: SpanKind.INTERNAL,
          attributes: {
            'fathom.evaluation.id': record.id,
            'fathom.model': record.modelName,
            'fathom.model.version': record.modelVersion,
            'fathom.dataset': dataset.manifest.name,
          },
        },
        ROOT_CONTEXT,
      );
      const carrier: Record<string, string> = {};
      propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
      span.end();
      traceParent = carrier.traceparent ?? null;
      await this.store.markRunning(record.id, traceParent);
    }
    const traceContext = traceParent ? propagation.extract(ROOT_CONTEXT, { traceparent: traceParent }) : ROOT_CONTEXT;
    return {
      record,
      task: dataset.manifest.task,
      dataset,
      datasetRecord,
      files,
      reference,
      queue,
      model,
      traceContext,
      score: scoreOptionsOf(model, dataset),
    };
  }

  /** Queues a sample's job, its id written first; 'busy' when the queue is full (tried again next pass). */
  private async submit(run: Run, sample: PendingSample, jobId: string): Promise<'queued' | 'busy' | 'failed'> {
    const entry = run.dataset.samples[sample.index];
    if (!entry) {
      await this.store.failedSample(run.record.id, sample.index, `the dataset has no sample ${sample.index}`);
      return 'failed';
    }
    // The id first, then the job: a restart in between finds the id and queues the job under it.
    // Another instance that took this sample first keeps it (setJob only fills an empty id).
    if (sample.jobId === null && !(await this.store.setJob(run.record.id, sample.index, jobId))) return 'queued';
    try {
      const image = await run.files.read(entry.image);
      await context.with(run.traceContext, () =>
        trace
          .getTracer('fathom')
          .startActiveSpan(
            'evaluation sample',
            { attributes: { 'fathom.evaluation.id': run.record.id, 'fathom.evaluation.sample': entry.id } },
            async (span) => {
              try {
                await this.submitter.submitEvaluationJob({
                  jobId,
                  reference: run.reference,
                  variant: run.record.variant ?? undefined,
                  image,
                  filename: entry.image.split('/').pop() ?? entry.id,
                  options: EVALUATION_OPTIONS[run.task],
                  keyId: run.record.createdBy,
                  evaluation: { id: run.record.id, sample: sample.index },
                });
              } finally {
                span.end();
              }
            },
          ),
      );
      return 'queued';
    } catch (error) {
      // Its id is written: the next pass finds no job under it and queues it again.
      if (isPassing(error)) return 'busy';
      // The sample itself cannot run (an image the API refuses): scored as failed, the run goes on.
      await this.store.failedSample(run.record.id, sample.index, messageOf(error));
      return 'failed';
    }
  }

  /**
   * A sample whose job was queued: scored once it completed, failed once it failed, queued again
   * when its job never made it. True when the sample ended here.
   */
  private async check(run: Run, sample: PendingSample): Promise<boolean> {
    const jobId = sample.jobId!;
    let snapshot: JobSnapshot;
    try {
      snapshot = await this.reader.snapshot(jobId);
    } catch (error) {
      // Its id was written but the job never queued (the instance stopped in between): queue it now, under the same id.
      if (error instanceof FathomError && error.code === ErrorCode.JobNotFound) await this.submit(run, sample, jobId);
      if (error instanceof FathomError && error.code === ErrorCode.JobExpired) {
        await this.store.failedSample(run.record.id, sample.index, 'its job expired before it was scored');
        return true;
      }
      return false;
    }
    const { status } = snapshot;
    if (status.state === 'failed' || status.state === 'cancelled') {
      const error = status.error ? `${status.error.code}: ${status.error.message}` : status.state;
      await this.store.failedSample(run.record.id, sample.index, error);
      return true;
    }
    if (status.state !== 'completed') return false;
    try {
      const { bytes, artifact } = await this.reader.result(jobId, PREDICTION_ARTIFACT[run.task], snapshot);
      const entry = run.dataset.samples[sample.index]!;
      const score = await scoreSample(run.task, { bytes, contentType: artifact.contentType }, entry, run.dataset, run.files, run.score);
      await this.store.scored(run.record.id, sample.index, {
        metrics: score.metrics,
        stats: score.stats,
        timings: status.timings ?? null,
        executionProvider: status.executionProvider ?? null,
      });
      return true;
    } catch (error) {
      if (error instanceof FathomError && error.code === ErrorCode.StoreUnavailable) return false; // read again next pass
      await this.store.failedSample(run.record.id, sample.index, `could not be scored: ${messageOf(error)}`);
      return true;
    }
  }

  /** Every sample ended: completed with the aggregate (failed when none could be scored). */
  private async complete(run: Run): Promise<void> {
    await this.finish(run.record, 'completed', null, run);
  }

  /** Cancelled: its jobs still queued are cancelled; it ends with what it scored, and its report. */
  private async cancel(run: Run): Promise<void> {
    const { inFlight } = await this.store.openSamples(run.record.id, 0);
    await Promise.allSettled(inFlight.map((s) => this.canceller.cancel(s.jobId!, run.record.createdBy)));
    await this.finish(run.record, 'cancelled', 'cancelled', run);
  }

  /**
   * Ends the run: the aggregate, latency and throughput of what was scored, the report (when the
   * run got as far as a dataset), then the row. A run that scored nothing ends failed.
   */
  private async finish(at: EvaluationRecord, state: 'completed' | 'cancelled' | 'failed', error: string | null, run?: Run): Promise<void> {
    const record = (await this.store.find(at.id)) ?? at;
    const samples = run ? await this.store.samples(record.id) : [];
    const scored = samples.filter((s) => s.state === 'scored');
    if (state === 'completed' && scored.length === 0) {
      state = 'failed';
      error = `none of the ${samples.length} samples could be scored (see ${`/v1/evaluations/${record.id}/samples`})`;
    }
    const finishedAt = Date.now();
    const startedAt = record.startedAt ? Date.parse(record.startedAt) : finishedAt;
    const aggregate =
      run && scored.length > 0
        ? (
            SCORERS[run.task] as { aggregate(stats: unknown[]): { metrics: Record<string, number>; details?: Record<string, unknown> } }
          ).aggregate(scored.map((s) => s.stats))
        : null;
    const outcome = {
      state,
      metrics: aggregate?.metrics ?? null,
      details: aggregate?.details ?? null,
      latency: scored.length ? latencySummary(scored.map((s) => s.timings).filter((t): t is Record<string, number> => t !== null)) : null,
      throughput: scored.length && finishedAt > startedAt ? scored.length / ((finishedAt - startedAt) / 1000) : null,
      executionProviders: [...new Set(scored.map((s) => s.executionProvider).filter((p): p is string => !!p))],
      error,
    };
    const reportPrefix = run
      ? await this.reports
          .write({ ...record, ...outcome, finishedAt: new Date(finishedAt).toISOString() }, samples, run)
          .catch((e: Error) => {
            this.logger.error({ msg: 'evaluation report could not be written', evaluationId: record.id, error: e.message });
            return null;
          })
      : null;
    await this.store.finish(record.id, { ...outcome, reportPrefix });
    this.logger.log({
      msg: `evaluation ${state}`,
      evaluationId: record.id,
      model: `${record.modelName}@${record.modelVersion}`,
      error,
      ...outcome.metrics,
    });
    this.gateway.finished((await this.store.find(record.id)) ?? null);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
