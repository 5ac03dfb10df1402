import { ErrorCode, FathomError, type TaskName } from '@fathom/contracts';

/** The types say a prediction is drawn at its truth's size; a sample where it is not cannot be scored pixel for pixel. */
export function requireSameSize(
  task: TaskName,
  prediction: { width: number; height: number },
  truth: { width: number; height: number },
): void {
  if (prediction.width !== truth.width || prediction.height !== truth.height) {
    throw new FathomError(
      ErrorCode.InferenceFailed,
      `the ${task} prediction is ${prediction.width}×${prediction.height} but its ground truth is ${truth.width}×${truth.height}: predictions are scored at the truth's size`,
    );
  }
}

/** An aggregate of no samples has no value: every sample failed, or none were scored yet. */
export function requireSamples(task: TaskName, stats: readonly unknown[]): void {
  if (stats.length === 0) {
    throw new FathomError(ErrorCode.InvalidRequest, `no scored ${task} samples to aggregate: score at least one sample first`);
  }
}

export function meanOf<S>(items: readonly S[], value: (item: S) => number): number {
  let sum = 0;
  for (const item of items) sum += value(item);
  return sum / items.length;
}
