import { classificationTask, softmax, topK } from './classification.task';
import { NO_BATCHING, type ModelSpec } from '@fathom/models';
import { DEFAULT_PNG_ENCODING } from '../../imaging/png-encoding';

const spec = (kind: 'logits' | 'probabilities'): ModelSpec => ({
  name: 'cls',
  version: '1',
  task: 'classification',
  weights: '/dev/null',
  source: { kind: 'path', path: '/dev/null' },
  manifestFile: 'test',
  batching: NO_BATCHING,
  input: { name: 'x', layout: 'NCHW', channels: 'RGB', resize: { mode: 'fixed', width: 2, height: 2 }, mean: [0, 0, 0], std: [1, 1, 1] },
  output: { name: 'y', layout: 'NCHW', kind, range: { kind: 'minmax' } },
  labels: ['cat', 'dog', 'bird'],
});

describe('classification', () => {
  it('softmax of a known logit vector', () => {
    const p = softmax([Math.log(1), Math.log(3), Math.log(6)]);
    expect([...p].map((v) => Math.round(v * 1000) / 1000)).toEqual([0.1, 0.3, 0.6]);
    expect([...softmax([1000, 1000])]).toEqual([0.5, 0.5]);
  });

  it('gives the known top-k with labels, applying softmax only to logits', async () => {
    const logits = { data: Float32Array.from([Math.log(1), Math.log(3), Math.log(6)]), dims: [1, 3] };
    const base = {
      image: { width: 2, height: 2 },
      modelInput: { width: 2, height: 2 },
      options: { topK: 2 },
      output: logits,
      png: DEFAULT_PNG_ENCODING,
    };
    expect((await classificationTask.postprocess({ ...base, spec: spec('logits') })).top).toEqual([
      { index: 2, label: 'bird', probability: 0.6 },
      { index: 1, label: 'dog', probability: 0.3 },
    ]);
    const probabilities = { data: Float32Array.from([0.2, 0.7, 0.1]), dims: [1, 3] };
    const { top } = await classificationTask.postprocess({ ...base, spec: spec('probabilities'), output: probabilities });
    expect(top.map((t) => [t.label, t.probability])).toEqual([
      ['dog', expect.closeTo(0.7, 6)],
      ['cat', expect.closeTo(0.2, 6)],
    ]);
  });

  it('logs features of the full probability vector, not of the top k it returns', async () => {
    const input = {
      spec: spec('logits'),
      image: { width: 2, height: 2 },
      modelInput: { width: 2, height: 2 },
      options: { topK: 1 },
      output: { data: Float32Array.from([Math.log(1), Math.log(3), Math.log(6)]), dims: [1, 3] },
      png: DEFAULT_PNG_ENCODING,
    };
    const result = await classificationTask.encode(await classificationTask.postprocess(input), input);
    expect(result.summary.top).toHaveLength(1);
    // H = −(0.1 ln 0.1 + 0.3 ln 0.3 + 0.6 ln 0.6): three classes' entropy, which one class alone would put at 0.
    expect(result.features()).toEqual({
      task: 'classification',
      topLabel: 'bird',
      topProbability: expect.closeTo(0.6, 6),
      entropy: expect.closeTo(-(0.1 * Math.log(0.1) + 0.3 * Math.log(0.3) + 0.6 * Math.log(0.6)), 6),
      classes: 3,
    });
  });

  it('labels unnamed classes by index', () => {
    expect(topK([0.1, 0.9], 1, undefined)).toEqual([{ index: 1, label: '1', probability: 0.9 }]);
  });
});
