import type { ModelSpec } from '@fathom/models';

/**
 * The checks that a manifest describes the model it names, run once at warm-up: a mismatch stops
 * start-up naming the manifest and the field, instead of failing every job later.
 */

/** The tensors the manifest names exist in the model. */
export function checkTensorNames(spec: ModelSpec, model: { inputNames: readonly string[]; outputNames: readonly string[] }): void {
  const { input, output, manifestFile } = spec;
  if (!model.inputNames.includes(input.name)) {
    throw new Error(`${manifestFile}: input.name: "${input.name}" is not an input of this model (inputs: ${model.inputNames.join(', ')})`);
  }
  if (!model.outputNames.includes(output.name)) {
    throw new Error(
      `${manifestFile}: output.name: "${output.name}" is not an output of this model (outputs: ${model.outputNames.join(', ')})`,
    );
  }
}

/** The warm-up's output fits the task: labels for every class the model answers. */
export function checkWarmUpOutput(spec: ModelSpec, outputDims: readonly number[]): void {
  const { output, labels, manifestFile, task } = spec;
  const classes =
    task === 'classification'
      ? outputDims.at(-1)
      : task === 'segmentation'
        ? output.layout === 'NHWC'
          ? outputDims.at(-1)
          : outputDims[1]
        : undefined;
  if (labels && classes !== undefined && classes > 1 && labels.length !== classes) {
    throw new Error(`${manifestFile}: labels: ${labels.length} names for a model with ${classes} classes`);
  }
}
