import type { KnownModel, TaskName } from '@fathom/contracts';
import {
  PREDICTION_ARTIFACT,
  readPrediction,
  readTruth,
  SCORERS,
  type DatasetFiles,
  type DatasetSample,
  type LoadedDataset,
  type SampleScore,
  type ScoreOptions,
} from '@fathom/evaluation';

/** Task options every evaluation job gets over the model's defaults: what the metrics need returned. */
export const EVALUATION_OPTIONS: Record<TaskName, Record<string, unknown>> = {
  depth: {},
  segmentation: {},
  // top-5 needs five labels back.
  classification: { topK: 5 },
  'text-detection': {},
  'image-to-image': {},
};

/** How a model's predictions on a dataset are scored: the depth output kind from its manifest, the dataset's depth range. */
export function scoreOptionsOf(model: Pick<KnownModel, 'evaluation'>, dataset: LoadedDataset): ScoreOptions {
  const range = dataset.manifest.depth?.range;
  return {
    ...(model.evaluation?.depth ? { depthOutput: model.evaluation.depth } : {}),
    ...(range ? { depthRange: range } : {}),
  };
}

/** One sample's job output against its ground truth. */
export async function scoreSample(
  task: TaskName,
  artifact: { bytes: Buffer; contentType: string },
  sample: DatasetSample,
  dataset: LoadedDataset,
  files: DatasetFiles,
  options: ScoreOptions,
): Promise<SampleScore> {
  const prediction = await readPrediction(task, { [PREDICTION_ARTIFACT[task]]: artifact });
  const truth = await readTruth(task, sample, files, dataset);
  return (SCORERS[task] as { score(p: unknown, t: unknown, o: ScoreOptions): SampleScore }).score(prediction, truth, options);
}
