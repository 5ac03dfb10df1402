import { Inject, Injectable, Logger } from '@nestjs/common';
import type { TaskName } from '@fathom/contracts';
import type { DatasetRecord, EvaluationRecord, EvaluationSampleRecord } from '@fathom/database';
import {
  PREDICTION_ARTIFACT,
  readPrediction,
  readTruth,
  renderPanels,
  renderReport,
  SCORERS,
  type DatasetFiles,
  type LoadedDataset,
  type ScoreOptions,
} from '@fathom/evaluation';
import { BlobStore } from '@fathom/storage';
import { JobReader } from '../jobs/job-reader.service';
import { evaluationView, sampleResultOf } from './evaluation-views';

/** How many of the worst samples the report shows as pictures. */
const WORST_SHOWN = 8;

/** What a report needs of the run beside its records. */
export interface ReportContext {
  task: TaskName;
  dataset: LoadedDataset;
  datasetRecord: Pick<DatasetRecord, 'id' | 'name' | 'version' | 'task' | 'samples'>;
  files: DatasetFiles;
  score: ScoreOptions;
}

/** The files an evaluation stores under reports/<id>/ (and GET …/report, …/samples serve). */
export const REPORT_FILES = { html: 'report.html', samples: 'samples.jsonl', summary: 'evaluation.json' } as const;

/**
 * Writes an evaluation's results to the object store: every sample's metrics (JSON lines), the
 * evaluation as the API shows it, and one self-contained HTML report whose worst samples are shown
 * as input / prediction / ground truth / error map. The pictures come from the jobs' artifacts,
 * read while they are still kept (STORAGE_RETENTION_SECONDS), and the dataset's files.
 */
@Injectable()
export class EvaluationReportWriter {
  private readonly logger = new Logger(EvaluationReportWriter.name);

  constructor(
    @Inject(BlobStore) private readonly blobs: BlobStore,
    @Inject(JobReader) private readonly reader: JobReader,
  ) {}

  async write(record: EvaluationRecord, samples: EvaluationSampleRecord[], run: ReportContext): Promise<string> {
    const view = evaluationView(record, run.datasetRecord);
    const results = samples.map(sampleResultOf);
    const scorer = SCORERS[run.task] as { rank(score: { metrics: Record<string, number>; stats: unknown }): number };
    const worst = samples
      .filter((s) => s.state === 'scored' && s.metrics !== null)
      .map((s) => ({ s, rank: scorer.rank({ metrics: s.metrics!, stats: s.stats }) }))
      .sort((a, b) => a.rank - b.rank)
      .slice(0, WORST_SHOWN);
    const shown = [];
    for (const { s } of worst) {
      try {
        shown.push({ sample: sampleResultOf(s), panels: await this.panels(s, run) });
      } catch (error) {
        // Its job's artifacts expired (or the dataset file went): the report still lists its metrics.
        this.logger.warn({
          msg: 'a sample is left out of the report pictures',
          evaluationId: record.id,
          sample: s.sample,
          error: (error as Error).message,
        });
      }
    }
    const html = renderReport({ evaluation: view, samples: results, worst: shown, generatedAt: new Date().toISOString() });
    await Promise.all([
      this.blobs.put(this.blobs.reportKey(record.id, REPORT_FILES.html), Buffer.from(html)),
      this.blobs.put(
        this.blobs.reportKey(record.id, REPORT_FILES.samples),
        Buffer.from(results.map((r) => JSON.stringify(r)).join('\n') + '\n'),
      ),
      this.blobs.put(this.blobs.reportKey(record.id, REPORT_FILES.summary), Buffer.from(JSON.stringify(view, null, 2))),
    ]);
    return this.blobs.reportKey(record.id, '');
  }

  private async panels(sample: EvaluationSampleRecord, run: ReportContext) {
    const entry = run.dataset.samples[sample.index]!;
    const jobId = sample.jobId!;
    const [image, raw, primary] = await Promise.all([
      run.files.read(entry.image),
      this.reader.result(jobId, PREDICTION_ARTIFACT[run.task]),
      this.reader.result(jobId),
    ]);
    const prediction = await readPrediction(run.task, {
      [PREDICTION_ARTIFACT[run.task]]: { bytes: raw.bytes, contentType: raw.artifact.contentType },
    });
    const truth = await readTruth(run.task, entry, run.files, run.dataset);
    return renderPanels(run.task, {
      image,
      prediction,
      ...(primary.artifact.contentType.startsWith('image/') ? { predictionImage: primary.bytes } : {}),
      truth,
      options: run.score,
    });
  }
}
