import { ErrorCode, formatFailureReason, parseFailureReason } from './error-codes';
import { progressAt } from './job-progress';
import { inferenceQueueName } from './queue-names';
import { parseTaskOptions } from './tasks';

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
    expect(inferenceQueueName('depth-anything-v2-small', '1.0.0')).toBe('infer.depth-anything-v2-small@1.0.0');
  });
});
