import type { EvaluationView, SampleResult } from '@fathom/contracts';
import type { DatasetRecord, EvaluationRecord, EvaluationSampleRecord } from '@fathom/database';

export function evaluationLinks(id: string): EvaluationView['links'] {
  const self = `/v1/evaluations/${id}`;
  return { self, report: `${self}/report`, samples: `${self}/samples` };
}

/** An evaluation as GET /v1/evaluations/:id shows it. */
export function evaluationView(
  record: EvaluationRecord,
  dataset: Pick<DatasetRecord, 'id' | 'name' | 'version' | 'task' | 'samples'>,
): EvaluationView {
  return {
    id: record.id,
    state: record.state,
    dataset: { id: dataset.id, name: dataset.name, version: dataset.version, task: dataset.task, samples: dataset.samples },
    model: {
      reference: record.modelReference,
      name: record.modelName,
      version: record.modelVersion,
      ...(record.variant ? { variant: record.variant } : {}),
    },
    executionProviders: record.executionProviders,
    progress: { total: record.total, done: record.done, failed: record.failed },
    metrics: record.metrics,
    details: record.details,
    latency: record.latency,
    throughput: record.throughput,
    error: record.error,
    createdAt: record.createdAt,
    createdBy: record.createdBy,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    links: evaluationLinks(record.id),
  };
}

/** One line of samples.jsonl. */
export function sampleResultOf(sample: EvaluationSampleRecord): SampleResult {
  return {
    index: sample.index,
    sample: sample.sample,
    jobId: sample.jobId,
    state: sample.state,
    metrics: sample.metrics,
    error: sample.error,
    timings: sample.timings,
  };
}
