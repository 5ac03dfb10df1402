import type { TensorView } from '../tasks/task-pipeline';

/** Tensors of one shape with a batch axis of 1 → one tensor of batch n (axis 0 is the batch axis). */
export function stackBatch(tensors: readonly TensorView[]): TensorView {
  const first = tensors[0];
  if (!first) throw new Error('cannot stack an empty batch');
  const shape = first.dims.slice(1);
  for (const tensor of tensors) {
    if (tensor.dims[0] !== 1 || tensor.dims.length !== first.dims.length || tensor.dims.some((d, i) => i > 0 && d !== first.dims[i])) {
      throw new Error(`cannot stack ${JSON.stringify(tensor.dims)} with ${JSON.stringify(first.dims)}`);
    }
  }
  const size = first.data.length;
  const data = new Float32Array(size * tensors.length);
  tensors.forEach((tensor, i) => data.set(tensor.data, i * size));
  return { data, dims: [tensors.length, ...shape] };
}

/** A batch-n output → n views of batch 1, sharing its memory (no copy). */
export function splitBatch(output: TensorView, n: number): TensorView[] {
  if (output.dims[0] !== n) throw new Error(`the model answered a batch of ${output.dims[0]} for ${n} inputs`);
  const size = output.data.length / n;
  const dims = [1, ...output.dims.slice(1)];
  return Array.from({ length: n }, (_, i) => ({ data: output.data.subarray(i * size, (i + 1) * size), dims }));
}
