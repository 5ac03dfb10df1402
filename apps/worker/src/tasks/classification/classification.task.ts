import { classificationOutputFeatures } from '../../features/output-features';
import { jsonArtifact, type TaskPipeline } from '../task-pipeline';

export interface Ranked {
  index: number;
  label: string;
  probability: number;
}

/** Numerically stable softmax. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/** The k most probable classes, most probable first. */
export function topK(probabilities: ArrayLike<number>, k: number, labels: readonly string[] | undefined): Ranked[] {
  return Array.from({ length: probabilities.length }, (_, index) => ({
    index,
    label: labels?.[index] ?? String(index),
    probability: probabilities[index]!,
  }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, k)
    .map((r) => ({ ...r, probability: Math.round(r.probability * 1e6) / 1e6 }));
}

/** Class scores [N,C] → top-k labels with probabilities; softmax only when the model outputs logits. */
export const classificationTask: TaskPipeline<'classification', { top: Ranked[]; probabilities: ArrayLike<number> }> = {
  drawsOnInput: false,

  async postprocess({ spec, output, options }) {
    const classes = output.dims[output.dims.length - 1] ?? 0;
    const scores = output.data.subarray(0, classes);
    const probabilities = spec.output.kind === 'logits' ? softmax(scores) : scores;
    // The full vector is kept for the output's features (entropy), which the top k cannot give.
    return { top: topK(probabilities, options.topK, spec.labels), probabilities };
  },

  async encode({ top, probabilities }, { spec, modelInput }) {
    return {
      primary: 'labels',
      artifacts: [jsonArtifact('labels', { top })],
      summary: { task: 'classification', top, modelInput },
      features: () => classificationOutputFeatures(probabilities, spec.labels),
    };
  },
};
