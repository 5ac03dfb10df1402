import { Inject, Injectable } from '@nestjs/common';
import {
  driftReferenceSourceSchema,
  ErrorCode,
  FathomError,
  MAX_REFERENCE_ROWS,
  MIN_REFERENCE_ROWS,
  type DriftReferenceSource,
  type DriftReport,
  type TaskName,
} from '@fathom/contracts';
import { DriftReferenceStore, PredictionStore, type DriftReferenceRecord, type PredictionFeaturesRow } from '@fathom/database';
import { buildReferenceProfile, compareWithReference, InsufficientReferenceError } from '@fathom/drift';
import { activeTraceId } from '@fathom/telemetry';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { ServedModelsService } from '../models/catalog/served-models.service';

const DAY_MS = 86_400_000;

/** A version's reference, as the API shows it (the profile's bins are in each report). */
export interface ReferenceView {
  /** Left out for keys without models:admin (the admin's job ids, evaluation id and key id stay with admins). */
  source?: DriftReferenceSource;
  rows: number;
  createdAt: string;
  createdBy?: string;
}

/** GET /v1/models/:name/drift: per version, its reference and its latest window compared with it. */
export interface VersionDrift {
  version: string;
  reference: ReferenceView | null;
  window: { rows: number; from: string | null; to: string | null };
  report: DriftReport | null;
  /** Why a version with a reference has no report (a stored profile that no longer reads, rows it cannot score). */
  problem?: string;
}

/**
 * Drift (issue 15): a model version's reference profile — built from an evaluation run's samples,
 * jobs profiled for it, or a window of its own production log — and its latest production
 * predictions compared with it (libs/drift; docs/drift.md).
 */
@Injectable()
export class DriftService {
  constructor(
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(DriftReferenceStore) private readonly references: DriftReferenceStore,
    @Inject(PredictionStore) private readonly predictions: PredictionStore,
    @Inject(ServedModelsService) private readonly models: ServedModelsService,
  ) {}

  /** Builds and stores a version's reference profile from `body.source`. */
  async setReference(name: string, version: string, body: unknown, actor: string): Promise<ReferenceView> {
    const source = driftReferenceSourceSchema.parse((body as { source?: unknown } | null)?.source);
    const task = await this.taskOf(name, version);
    const rows = await this.referenceRows(name, version, source);
    let profile;
    try {
      profile = buildReferenceProfile(task, rows);
    } catch (error) {
      if (!(error instanceof InsufficientReferenceError)) throw error;
      throw new FathomError(
        ErrorCode.ReferenceTooSmall,
        `The source has ${rows.length} completed predictions of ${name}@${version} with features; a reference needs at least ${MIN_REFERENCE_ROWS}: profile more images, or pick a longer window.`,
        { rows: rows.length, needs: MIN_REFERENCE_ROWS },
      );
    }
    return view(await this.references.set({ model: name, version, source, profile }, { actor, traceId: activeTraceId() ?? null }));
  }

  async reference(name: string, version: string): Promise<DriftReferenceRecord> {
    const record = await this.references.get(name, version);
    if (!record) throw notFound(name, version);
    return record;
  }

  async deleteReference(name: string, version: string, actor: string): Promise<void> {
    if (!(await this.references.delete(name, version, { actor, traceId: activeTraceId() ?? null }))) throw notFound(name, version);
  }

  /** Every version of the model that is declared or has a reference, with its drift now. */
  async modelDrift(name: string): Promise<VersionDrift[]> {
    const { declared } = await this.models.declarations(name);
    const references = (await this.references.list()).filter((r) => r.model === name);
    const versions = [...new Set([...declared.map((m) => m.version), ...references.map((r) => r.version)])].sort();
    return Promise.all(
      versions.map((version) =>
        this.versionDrift(
          name,
          version,
          references.find((r) => r.version === version),
        ),
      ),
    );
  }

  /** The versions with a reference, each compared with its window (the monitor's round). */
  async allDrift(): Promise<Array<{ model: string; version: string; drift: VersionDrift; reference: DriftReferenceRecord }>> {
    const references = await this.references.list();
    return Promise.all(
      references.map(async (reference) => ({
        model: reference.model,
        version: reference.version,
        reference,
        drift: await this.versionDrift(reference.model, reference.version, reference),
      })),
    );
  }

  private async versionDrift(model: string, version: string, reference: DriftReferenceRecord | undefined): Promise<VersionDrift> {
    const rows = await this.predictions.latestFeatures({
      model,
      version,
      limit: this.config.API_DRIFT_WINDOW,
      since: new Date(Date.now() - this.config.API_DRIFT_MAX_AGE_SECONDS * 1000),
    });
    let report: DriftReport | null = null;
    let problem = reference?.problem;
    if (reference?.profile) {
      try {
        report = compareWithReference(reference.profile, rows);
      } catch (error) {
        // One version's odd rows or profile never stop the others' scores.
        problem = `not scored: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    return {
      version,
      reference: reference ? view(reference) : null,
      window: { rows: rows.length, from: rows.at(-1)?.finishedAt ?? null, to: rows[0]?.finishedAt ?? null },
      report,
      ...(problem ? { problem } : {}),
    };
  }

  private async referenceRows(model: string, version: string, source: DriftReferenceSource): Promise<PredictionFeaturesRow[]> {
    if ('evaluation' in source) return this.predictions.features({ model, version, evaluationId: source.evaluation }, MAX_REFERENCE_ROWS);
    if ('jobs' in source) return this.predictions.features({ model, version, jobIds: source.jobs }, MAX_REFERENCE_ROWS);
    if ('from' in source)
      return this.predictions.features(
        { model, version, purpose: 'production', from: source.from, to: source.to },
        MAX_REFERENCE_ROWS,
        'sample',
      );
    const first = await this.predictions.firstFinished(model, version);
    if (first === undefined) return [];
    const to = new Date(new Date(first).getTime() + source.firstDays * DAY_MS);
    return this.predictions.features({ model, version, purpose: 'production', from: first, to }, MAX_REFERENCE_ROWS, 'sample');
  }

  private async taskOf(name: string, version: string): Promise<TaskName> {
    const { declared } = await this.models.declarations(name);
    const model = declared.find((m) => m.version === version);
    if (!model) {
      throw new FathomError(
        ErrorCode.ModelNotFound,
        `${name} has no version "${version}": use one of ${[...new Set(declared.map((m) => m.version))].join(', ')}.`,
      );
    }
    return model.task;
  }
}

function view(record: DriftReferenceRecord): ReferenceView {
  return { source: record.source, rows: record.rows, createdAt: record.createdAt, createdBy: record.createdBy };
}

function notFound(name: string, version: string): FathomError {
  return new FathomError(
    ErrorCode.DriftReferenceNotFound,
    `${name}@${version} has no drift reference: set one with PUT /v1/admin/models/${name}/versions/${version}/drift-reference.`,
  );
}
