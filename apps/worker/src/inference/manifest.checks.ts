import { TASKS } from '@fathom/contracts';
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

/**
 * The warm-up's output fits the task, by the task's own check (TASKS[task].checkOutput in
 * libs/contracts): labels for every class the model answers, an output a whole factor larger
 * than the input for image-to-image, …
 */
export function checkWarmUpOutput(spec: ModelSpec, dims: { input: readonly number[]; output: readonly number[] }): void {
  const problem = TASKS[spec.task].checkOutput({
    inputDims: dims.input,
    outputDims: dims.output,
    inputLayout: spec.input.layout,
    outputLayout: spec.output.layout,
    labels: spec.labels,
  });
  if (problem) throw new Error(`${spec.manifestFile}: ${problem}`);
}
