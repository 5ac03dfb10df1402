import { modelOutput } from './inference.pipeline';

describe("modelOutput: the pipeline's check of what the model answered", () => {
  const data = new Float32Array([0.25, 0.5]);

  it('hands on the output the manifest names, as float32', () => {
    expect(modelOutput({ predicted_depth: { type: 'float32', data, dims: [1, 1, 2] } }, 'predicted_depth')).toEqual({
      data,
      dims: [1, 1, 2],
    });
  });

  it('fails the batch, naming the output, when it is missing or of another type', () => {
    expect(() => modelOutput({ depth: { type: 'float32', data, dims: [1, 2] } }, 'predicted_depth')).toThrow(
      'Model output "predicted_depth" is missing or not float32.',
    );
    expect(() => modelOutput({ logits: { type: 'int64', data: new BigInt64Array(2), dims: [1, 2] } }, 'logits')).toThrow(
      'Model output "logits" is missing or not float32.',
    );
  });
});
