import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inferenceJobDataSchema } from './job-data';
import { artifactNameSchema } from './job-result';
import { describeTaskOptions, TASK_NAMES, TASKS, taskNameSchema, type WarmUpRun } from './tasks';

describe('the task table', () => {
  it('derives the wire enums in the order they had before the table', () => {
    expect(taskNameSchema.options.slice(0, 4)).toEqual(['depth', 'segmentation', 'classification', 'text-detection']);
    expect(artifactNameSchema.options.slice(0, 8)).toEqual(['depth', 'overlay', 'mask', 'shares', 'cutout', 'labels', 'boxes', 'heatmap']);
  });

  it('gives every task a job-data branch with its own options', () => {
    const input = { blobKey: 'k', bytes: 1, format: 'png', width: 1, height: 1 };
    for (const task of taskNameSchema.options) {
      const data = inferenceJobDataSchema.parse({
        jobId: 'j',
        model: { name: 'm', version: '1.0.0', task },
        task,
        options: {},
        input,
        submittedAt: 0,
      });
      expect(data.options).toEqual(TASKS[task].options.parse({}));
    }
    expect(() =>
      inferenceJobDataSchema.parse({
        jobId: 'j',
        model: { name: 'm', version: '1.0.0', task: 'depth' },
        task: 'depth',
        options: { topK: 3 },
        input,
        submittedAt: 0,
      }),
    ).toThrow();
  });

  it('writes the upload form’s options text from the option schemas', () => {
    expect(describeTaskOptions()).toContain(
      'depth: {"output":"grayscale"|"colormap"|"raw16","colormap":"turbo"|…}; segmentation: {"output":"overlay"|"mask"|"shares"|"cutout","opacity":0.5}; classification: {"topK":5}; text-detection: {"output":"boxes"|"heatmap","threshold":0.3,"boxThreshold":0.6,"colormap":"turbo"|…}',
    );
  });

  it('checks a model’s class axis against its labels at warm-up', () => {
    const run = (outputDims: number[], labels?: string[], outputLayout: 'NCHW' | 'NHWC' = 'NCHW'): WarmUpRun => ({
      inputDims: [1, 3, 64, 64],
      outputDims,
      inputLayout: 'NCHW',
      outputLayout,
      labels,
    });
    expect(TASKS.classification.checkOutput(run([1, 3], ['r', 'g']))).toBe('labels: 2 names for a model with 3 classes');
    expect(TASKS.classification.checkOutput(run([1, 3], ['r', 'g', 'b']))).toBeUndefined();
    expect(TASKS.segmentation.checkOutput(run([1, 21, 64, 64], ['a', 'b']))).toBe('labels: 2 names for a model with 21 classes');
    expect(TASKS.segmentation.checkOutput(run([1, 64, 64, 2], ['a', 'b'], 'NHWC'))).toBeUndefined();
    expect(TASKS.depth.checkOutput(run([1, 64, 64], ['a']))).toBeUndefined();
  });

  it('checks that an image-to-image model enlarges by one whole factor on both sides', () => {
    const run = (inputDims: number[], outputDims: number[]): WarmUpRun => ({
      inputDims,
      outputDims,
      inputLayout: 'NCHW',
      outputLayout: 'NCHW',
    });
    const check = TASKS['image-to-image'].checkOutput;
    expect(check(run([1, 1, 224, 224], [1, 1, 672, 672]))).toBeUndefined();
    expect(check(run([1, 3, 64, 48], [1, 3, 256, 192]))).toBeUndefined();
    expect(check(run([1, 1, 224, 224], [1, 1, 672, 670]))).toBe(
      'output: [1,1,672,670] is not the input [1,1,224,224] enlarged by one whole factor on both sides',
    );
    expect(check(run([1, 1, 224, 224], [1, 1, 336, 336]))).toMatch(/^output: /);
    expect(check(run([1, 1, 224, 224], [1, 672, 672]))).toMatch(/^output: /);
  });

  it('is the README’s table of tasks: one row per task, naming its artifacts', () => {
    const readme = readFileSync(join(__dirname, '..', '..', '..', '..', 'README.md'), 'utf8');
    const start = readme.indexOf('### Tasks and their outputs');
    const section = readme.slice(start, readme.indexOf('\n#', start + 1));
    const rows = section
      .split('\n')
      .filter((line) => /^\| `[a-z-]+` \|/.test(line))
      .map((line) => line.split(' | '));
    expect(rows.map((cells) => cells[0]!.replace(/^\| `|`$/g, ''))).toEqual(TASK_NAMES);
    for (const [cells, task] of rows.map((cells, i) => [cells, TASK_NAMES[i]!] as const)) {
      for (const artifact of TASKS[task].artifacts) expect(`${task}: ${cells[1]}`).toContain(`\`${artifact}\``);
    }
  });
});
