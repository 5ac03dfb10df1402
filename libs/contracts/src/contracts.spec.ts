import { ErrorCode, formatFailureReason, parseFailureReason } from './error-codes';
import { progressAt } from './job-progress';
import { inferenceQueueName, queueModelKey } from './queue-names';
import { parseTaskOptions } from './tasks';
import { inferenceJobDataSchema } from './job-data';
import { upgradeInferenceResult, upgradeJobData } from './legacy-jobs';

describe('the job contract', () => {
  it('carries a failure code through BullMQ’s failedReason and back', () => {
    const failure = { code: ErrorCode.ImageUndecodable, message: 'The image data is corrupt: premature end' };
    expect(parseFailureReason(formatFailureReason(failure))).toEqual(failure);
  });

  it('never shows a client the text of an unexpected error', () => {
    expect(parseFailureReason('TypeError: cannot read x of undefined\n    at secret.js:1')).toEqual({
      code: 'internal_error',
      message: 'The job failed because of an internal error.',
    });
    expect(parseFailureReason('[not_a_code] hello')).toMatchObject({ code: 'internal_error' });
    expect(parseFailureReason(undefined)).toMatchObject({ code: 'internal_error' });
  });

  it('fills dense-map defaults and refuses unknown options', () => {
    expect(parseTaskOptions('depth', undefined)).toEqual({ output: 'colormap', colormap: 'turbo' });
    expect(parseTaskOptions('depth', { output: 'raw16' })).toEqual({ output: 'raw16', colormap: 'turbo' });
    expect(() => parseTaskOptions('depth', { output: 'sepia' })).toThrow();
    expect(() => parseTaskOptions('text-detection', { colour: 'red' })).toThrow();
    expect(parseTaskOptions('segmentation', {})).toEqual({ output: 'overlay', opacity: 0.5 });
    expect(parseTaskOptions('classification', { topK: 2 })).toEqual({ topK: 2 });
    expect(() => parseTaskOptions('classification', { topK: 0 })).toThrow();
  });

  it('reports progress in stage order', () => {
    expect(progressAt('fetch')).toEqual({ stage: 'fetch', percent: 0 });
    const percents = (['decode', 'preprocess', 'inference', 'postprocess', 'encode', 'store'] as const).map((s) => progressAt(s).percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(percents.at(-1)).toBeLessThan(100);
  });

  it('names one queue per model version', () => {
    expect(inferenceQueueName('depth-anything-v2-small', '1.0.0')).toBe('infer.{depth-anything-v2-small@1.0.0}');
    expect(queueModelKey(inferenceQueueName('depth', '1.0.0', 'mirrors'))).toBe('depth@1.0.0#mirrors');
  });
});

describe('jobs written by Fathom 0.1', () => {
  const input = { blobKey: 'fathom:blob:input:j1', bytes: 10, format: 'png', width: 4, height: 2 };

  it('a queued depth job still parses, with its task', () => {
    const old = {
      jobId: 'j1',
      model: { name: 'd', version: '1.0.0', task: 'depth' },
      options: { output: 'grayscale', colormap: 'turbo' },
      input,
      submittedAt: 1,
    };
    expect(inferenceJobDataSchema.parse(upgradeJobData(old))).toMatchObject({ task: 'depth', options: { output: 'grayscale' } });
  });

  it('a queued heatmap job becomes a text-detection job that returns its heat map', () => {
    const old = {
      jobId: 'j2',
      model: { name: 'ppocr-v4-det', version: '4.0.0', task: 'heatmap' },
      options: { output: 'colormap', colormap: 'gray' },
      input,
      submittedAt: 1,
    };
    expect(inferenceJobDataSchema.parse(upgradeJobData(old))).toMatchObject({
      task: 'text-detection',
      model: { task: 'text-detection' },
      options: { output: 'heatmap', colormap: 'gray' },
    });
  });

  it('a completed depth result reads as one depth artifact; current data passes through untouched', () => {
    const artifact = { blobKey: 'fathom:blob:result:j1', contentType: 'image/png', bytes: 5, width: 4, height: 2, filename: 'a.depth.png' };
    const summary = { task: 'depth', output: 'grayscale', min: 0, max: 1, modelInput: { width: 518, height: 518 } };
    const old = { artifact, summary, timings: {}, model: { name: 'd', version: '1.0.0' }, executionProvider: 'cpu', workerId: 'w' };
    const upgraded = upgradeInferenceResult(old) as { primary: string; artifacts: unknown[] };
    expect(upgraded).toMatchObject({ primary: 'depth', artifacts: [{ name: 'depth', ...artifact }], summary });
    expect(upgradeInferenceResult(upgraded)).toBe(upgraded);
  });
});
