import type { JobProgress } from '@fathom/contracts';
import { JobProgressReporter } from './job-progress.reporter';

describe('JobProgressReporter', () => {
  const AFTER_MS = 50;
  let updates: JobProgress[];
  let reporter: JobProgressReporter;

  beforeEach(() => {
    jest.useFakeTimers();
    updates = [];
    reporter = new JobProgressReporter(
      { updateProgress: async (progress) => void updates.push(progress as JobProgress) },
      (error) => {
        throw error;
      },
      AFTER_MS,
    );
  });
  afterEach(() => jest.useRealTimers());

  it('reports a stage once it has lasted the delay, and skips the stages that ended sooner', async () => {
    reporter.enter('fetch');
    await jest.advanceTimersByTimeAsync(5);
    reporter.enter('decode');
    await jest.advanceTimersByTimeAsync(AFTER_MS - 1);
    reporter.enter('preprocess');
    reporter.enter('inference');
    await jest.advanceTimersByTimeAsync(AFTER_MS - 1);
    expect(updates).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(updates).toEqual([{ stage: 'inference', percent: 43 }]);
    reporter.enter('postprocess');
    await jest.advanceTimersByTimeAsync(10 * AFTER_MS);
    expect(updates).toEqual([
      { stage: 'inference', percent: 43 },
      { stage: 'postprocess', percent: 57 },
    ]);
  });

  it('reports every stage of a job whose stages are all slow, in order', async () => {
    for (const stage of ['fetch', 'decode', 'preprocess', 'inference', 'postprocess', 'encode', 'store'] as const) {
      reporter.enter(stage);
      await jest.advanceTimersByTimeAsync(AFTER_MS);
    }
    expect(updates.map((u) => `${u.stage}:${u.percent}`)).toEqual([
      'fetch:0',
      'decode:14',
      'preprocess:29',
      'inference:43',
      'postprocess:57',
      'encode:71',
      'store:86',
    ]);
  });

  it('reports nothing once stopped, and stop waits for an update already sent', async () => {
    let release!: () => void;
    const slow = new JobProgressReporter(
      {
        updateProgress: () =>
          new Promise<void>((resolve) => (release = () => (updates.push({ stage: 'inference', percent: 43 }), resolve()))),
      },
      () => undefined,
      AFTER_MS,
    );
    slow.enter('inference');
    await jest.advanceTimersByTimeAsync(AFTER_MS);
    let stopped = false;
    const stopping = slow.stop().then(() => (stopped = true));
    slow.enter('store');
    await jest.advanceTimersByTimeAsync(10 * AFTER_MS);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(updates).toEqual([{ stage: 'inference', percent: 43 }]);

    reporter.enter('store');
    await reporter.stop();
    await jest.advanceTimersByTimeAsync(10 * AFTER_MS);
    expect(updates).toEqual([{ stage: 'inference', percent: 43 }]);
  });

  it('hands a failed update to onError and goes on with the next', async () => {
    const errors: string[] = [];
    let calls = 0;
    const flaky = new JobProgressReporter(
      {
        updateProgress: async (progress) => {
          if (calls++ === 0) throw new Error('redis is down');
          updates.push(progress as JobProgress);
        },
      },
      (error) => errors.push(error.message),
      AFTER_MS,
    );
    flaky.enter('decode');
    await jest.advanceTimersByTimeAsync(AFTER_MS);
    flaky.enter('inference');
    await jest.advanceTimersByTimeAsync(AFTER_MS);
    await flaky.stop();
    expect(errors).toEqual(['redis is down']);
    expect(updates).toEqual([{ stage: 'inference', percent: 43 }]);
  });
});
