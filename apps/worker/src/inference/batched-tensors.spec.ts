import { splitBatch, stackBatch } from './batched-tensors';

describe('stackBatch / splitBatch', () => {
  it('stacks batch-1 tensors along axis 0 and splits the answer back, in order', () => {
    const a = { data: Float32Array.from([1, 2, 3, 4]), dims: [1, 1, 2, 2] };
    const b = { data: Float32Array.from([5, 6, 7, 8]), dims: [1, 1, 2, 2] };
    const stacked = stackBatch([a, b]);
    expect(stacked.dims).toEqual([2, 1, 2, 2]);
    expect([...stacked.data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const output = { data: Float32Array.from([10, 20, 30, 40, 50, 60]), dims: [2, 3] };
    const parts = splitBatch(output, 2);
    // Views of the batch's output, not copies.
    expect(parts.every((p) => p.data.buffer === output.data.buffer)).toBe(true);
    expect(parts.map((p) => ({ data: [...p.data], dims: p.dims }))).toEqual([
      { data: [10, 20, 30], dims: [1, 3] },
      { data: [40, 50, 60], dims: [1, 3] },
    ]);
  });

  it('refuses tensors of different shapes, and an answer whose batch does not match', () => {
    expect(() =>
      stackBatch([
        { data: new Float32Array(4), dims: [1, 1, 2, 2] },
        { data: new Float32Array(6), dims: [1, 1, 2, 3] },
      ]),
    ).toThrow(/cannot stack/);
    expect(() => splitBatch({ data: new Float32Array(6), dims: [3, 2] }, 2)).toThrow(/batch of 3 for 2 inputs/);
  });
});
