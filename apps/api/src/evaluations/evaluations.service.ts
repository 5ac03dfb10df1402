import { Inject, Injectable } from '@nestjs/common';
import {
  ErrorCode,
  FathomError,
  FINISHED_EVALUATION_STATES,
  type CompareBody,
  type ComparisonView,
  type CreateEvaluationBody,
  type EvaluationView,
} from '@fathom/contracts';
import { DatasetStore, EvaluationStore, type DatasetRecord, type EvaluationRecord } from '@fathom/database';
import { compareRuns } from '@fathom/evaluation';
import { BlobStore } from '@fathom/storage';
import { DatasetsService } from '../datasets/datasets.service';
import { ServedModelsService } from '../models/catalog/served-models.service';
import { isAdmin, mayRead, type Caller } from './evaluation-access';
import { REPORT_FILES } from './evaluation-report.writer';
import { evaluationView, sampleResultOf } from './evaluation-views';
import { EvaluationRunner } from './evaluation.runner';

/** A comparison answered now, or the runs it waits for. */
export type ComparisonOutcome = { ready: true; comparison: ComparisonView } | { ready: false; evaluations: EvaluationView[] };

/**
 * Evaluations (issue 14, ADR 0016): start a run of a model version on a dataset, read it, cancel it,
 * serve its stored report and samples, and compare two versions' runs sample by sample.
 */
@Injectable()
export class EvaluationsService {
  constructor(
    @Inject(EvaluationStore) private readonly store: EvaluationStore,
    @Inject(DatasetStore) private readonly datasetStore: DatasetStore,
    @Inject(DatasetsService) private readonly datasets: DatasetsService,
    @Inject(ServedModelsService) private readonly models: ServedModelsService,
    @Inject(EvaluationRunner) private readonly runner: EvaluationRunner,
    @Inject(BlobStore) private readonly blobs: BlobStore,
  ) {}

  /**
   * Starts a run (or, with `reuse`, answers the latest completed one of the same dataset version
   * and model version; `reuseRunning`: one still going counts too).
   */
  async create(body: CreateEvaluationBody, principal: Caller, reuseRunning = false): Promise<{ view: EvaluationView; reused: boolean }> {
    const dataset = await this.datasets.ensure(body.dataset);
    const { model } = await this.models.resolve(body.model, body.variant);
    if (model.task !== dataset.task) {
      throw new FathomError(
        ErrorCode.InvalidRequest,
        `${dataset.name}@${dataset.version} is a ${dataset.task} dataset and ${model.name}@${model.version} a ${model.task} model: evaluate a ${dataset.task} model on it.`,
      );
    }
    if (body.reuse || reuseRunning) {
      // Only the caller's own runs, unless it is an admin (a key sees the runs it started).
      const earlier = await this.store.latestCompleted(
        {
          datasetId: dataset.id,
          modelName: model.name,
          modelVersion: model.version,
          variant: model.variant ?? null,
          ...(isAdmin(principal) ? {} : { createdBy: principal.keyId }),
        },
        reuseRunning,
      );
      if (earlier) return { view: evaluationView(earlier, dataset), reused: true };
    }
    const { dataset: loaded } = await this.datasets.open(dataset.id);
    const created = await this.store.create({
      datasetId: dataset.id,
      modelReference: body.model,
      modelName: model.name,
      modelVersion: model.version,
      variant: model.variant ?? null,
      createdBy: principal.keyId,
      samples: loaded.samples.map((s) => s.id),
    });
    this.runner.kick(created.id);
    return { view: evaluationView(created, dataset), reused: false };
  }

  async get(id: string, principal: Caller): Promise<EvaluationView> {
    const { record, dataset } = await this.record(id, principal);
    return evaluationView(record, dataset);
  }

  async list(filter: { model?: string; dataset?: string; limit: number }, principal: Caller): Promise<EvaluationView[]> {
    const records = await this.store.list({ ...filter, ...(isAdmin(principal) ? {} : { createdBy: principal.keyId }) });
    const datasets = new Map<string, DatasetRecord>();
    const views: EvaluationView[] = [];
    for (const record of records) {
      let dataset = datasets.get(record.datasetId);
      if (!dataset) {
        dataset = await this.datasetStore.get(record.datasetId).catch(() => undefined);
        if (!dataset) continue;
        datasets.set(dataset.id, dataset);
      }
      views.push(evaluationView(record, dataset));
    }
    return views;
  }

  /** Asks the run to stop: its queued jobs are cancelled and it ends `cancelled` (a finished run is answered as it is). */
  async cancel(id: string, principal: Caller): Promise<EvaluationView> {
    const { record, dataset } = await this.record(id, principal);
    if (FINISHED_EVALUATION_STATES.includes(record.state)) return evaluationView(record, dataset);
    return evaluationView((await this.store.requestCancel(id)) ?? record, dataset);
  }

  /** The stored HTML report: there once the run has ended (completed, or cancelled with what it scored). */
  async report(id: string, principal: Caller): Promise<Buffer> {
    const { record } = await this.record(id, principal);
    const html = record.reportPrefix ? await this.blobs.get(this.blobs.reportKey(id, REPORT_FILES.html)) : null;
    if (!html) {
      throw new FathomError(
        ErrorCode.EvaluationNotFinished,
        `Evaluation ${id} is ${record.state}${record.error ? ` (${record.error})` : ''}: its report is written when it completes. Follow ${`/v1/evaluations/${id}`}.`,
        { state: record.state },
      );
    }
    return html;
  }

  /** Every sample's line as it stands (also while the run goes on). */
  async samples(id: string, principal: Caller): Promise<string> {
    await this.record(id, principal);
    const samples = await this.store.samples(id);
    return samples.map((s) => JSON.stringify(sampleResultOf(s))).join('\n') + (samples.length ? '\n' : '');
  }

  /**
   * b against a on one dataset: each one's latest completed run of that dataset version is reused,
   * a missing one is started; the comparison is answered once both have completed.
   */
  async compare(body: CompareBody, principal: Caller): Promise<ComparisonOutcome> {
    // A run of each side still going is waited for, not started again (a client polling compare starts nothing new).
    const runs = await Promise.all(
      [body.a, body.b].map((model) =>
        this.create({ dataset: body.dataset, model, ...(body.variant ? { variant: body.variant } : {}), reuse: true }, principal, true),
      ),
    );
    const [a, b] = runs.map((r) => r.view) as [EvaluationView, EvaluationView];
    if (a.state !== 'completed' || b.state !== 'completed') {
      const failed = [a, b].find((v) => v.state === 'failed' || v.state === 'cancelled');
      if (failed)
        throw new FathomError(
          ErrorCode.EvaluationNotFinished,
          `The evaluation of ${failed.model.reference} ${failed.state}: ${failed.error ?? ''}. Start it again.`,
          {
            evaluation: failed.id,
          },
        );
      return { ready: false, evaluations: [a, b] };
    }
    return { ready: true, comparison: await this.comparison(a, b, body.resamples) };
  }

  /** The paired comparison of two completed runs of one dataset version. */
  async comparison(a: EvaluationView, b: EvaluationView, resamples: number): Promise<ComparisonView> {
    const [samplesA, samplesB] = await Promise.all([this.store.samples(a.id), this.store.samples(b.id)]);
    const scoredB = new Map(samplesB.filter((s) => s.state === 'scored').map((s) => [s.sample, s.stats]));
    const pairs = samplesA.filter((s) => s.state === 'scored' && scoredB.has(s.sample));
    if (pairs.length === 0) {
      throw new FathomError(ErrorCode.EvaluationNotFinished, 'The two runs have no sample scored in both: nothing to compare.', {
        a: a.id,
        b: b.id,
      });
    }
    const metrics = compareRuns(
      a.dataset.task,
      pairs.map((s) => s.stats),
      pairs.map((s) => scoredB.get(s.sample)),
      { resamples, seed: 1 },
    );
    return {
      dataset: { name: a.dataset.name, version: a.dataset.version, task: a.dataset.task },
      a: {
        evaluation: a.id,
        model: `${a.model.name}@${a.model.version}${a.model.variant ? `#${a.model.variant}` : ''}`,
        failed: a.progress.failed,
      },
      b: {
        evaluation: b.id,
        model: `${b.model.name}@${b.model.version}${b.model.variant ? `#${b.model.variant}` : ''}`,
        failed: b.progress.failed,
      },
      pairs: pairs.length,
      resamples,
      metrics,
    };
  }

  /** A run the caller may see: its own, or any with models:admin; another key's is answered as one that never existed. */
  async record(id: string, principal: Caller): Promise<{ record: EvaluationRecord; dataset: DatasetRecord }> {
    const record = await this.store.find(id);
    const dataset = record && (await this.datasetStore.get(record.datasetId).catch(() => undefined));
    if (!record || !dataset || !mayRead(principal, record)) {
      throw new FathomError(ErrorCode.EvaluationNotFound, `No evaluation ${id}. See GET /v1/evaluations.`);
    }
    return { record, dataset };
  }
}
