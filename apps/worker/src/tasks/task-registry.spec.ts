import sharp from 'sharp';
import { NO_BATCHING, type ModelSpec } from '@fathom/models';
import { prepareTaskInput } from './task-registry';

const spec = (task: ModelSpec['task']): ModelSpec => ({
  name: task,
  version: '1',
  task,
  weights: '/dev/null',
  source: { kind: 'path', path: '/dev/null' },
  manifestFile: 'test',
  batching: NO_BATCHING,
  input: {
    name: 'input',
    layout: 'NCHW',
    channels: 'RGB',
    resize: { mode: 'fixed', width: 16, height: 8 },
    mean: [0, 0, 0],
    std: [1, 1, 1],
  },
  output: { name: 'output', layout: 'NCHW', kind: 'logits', range: { kind: 'minmax' } },
});

describe('an upload prepared for its model’s task', () => {
  const upload = sharp({ create: { width: 120, height: 80, channels: 3, background: '#336699' } })
    .png()
    .toBuffer();

  it('keeps the photo’s pixels only for a task that draws on it (segmentation), at the photo’s size', async () => {
    const segmentation = await prepareTaskInput(await upload, spec('segmentation'), { maxPixels: 40e6 });
    expect([segmentation.image, segmentation.rgb?.width, segmentation.rgb?.height, segmentation.tensor.dims]).toEqual([
      { width: 120, height: 80 },
      120,
      80,
      [1, 3, 8, 16],
    ]);
    for (const task of ['depth', 'text-detection', 'classification'] as const) {
      const prepared = await prepareTaskInput(await upload, spec(task), { maxPixels: 40e6 });
      expect([task, prepared.image, prepared.rgb, prepared.tensor.dims]).toEqual([
        task,
        { width: 120, height: 80 },
        undefined,
        [1, 3, 8, 16],
      ]);
    }
  });

  it('gives every task’s input features the model-size pixels (16×8 here) and what the header said', async () => {
    const bytes = await upload;
    for (const task of ['segmentation', 'depth', 'text-detection', 'classification'] as const) {
      const { forFeatures } = await prepareTaskInput(bytes, spec(task), { maxPixels: 40e6 });
      const { data, width, height } = forFeatures.pixels;
      // #336699 everywhere: a resize of one colour is that colour.
      expect([task, width, height, forFeatures.header, [...new Set(data)].sort((a, b) => a - b)]).toEqual([
        task,
        16,
        8,
        { format: 'png', orientation: 1 },
        [0x33, 0x66, 0x99],
      ]);
    }
  });
});
