import type { ThreadStage } from './thread-protocol';
import { StageDeadlines, stageLimitOf, type DeadlineClock } from './stage-deadlines';

/** A clock the test moves by hand: timers fire as time passes them, in order. */
class ManualClock implements DeadlineClock {
  private time = 0;
  private timers: Array<{ at: number; fn: () => void }> = [];

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { at: this.time + ms, fn };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(timer: unknown): void {
    this.timers = this.timers.filter((t) => t !== timer);
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const next = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.clearTimeout(next);
      this.time = next.at;
      next.fn();
    }
    this.time = until;
  }
}

describe('stage deadlines on one inference thread', () => {
  const limits = { decode: 100, inference: 1000, encode: 200 };
  let clock: ManualClock;
  let late: Array<[string, ThreadStage, number]>;
  let deadlines: StageDeadlines<string>;

  beforeEach(() => {
    clock = new ManualClock();
    late = [];
    deadlines = new StageDeadlines<string>(limits, (key, stage, limitMs) => late.push([key, stage, limitMs]), clock);
  });

  it('counts preprocessing as decoding and post-processing as encoding', () => {
    expect((['decode', 'preprocess', 'inference', 'postprocess', 'encode'] as const).map(stageLimitOf)).toEqual([
      'decode',
      'decode',
      'inference',
      'encode',
      'encode',
    ]);
  });

  it('calls a stage late once it has run its limit, not before, and never a stage that ended in time', () => {
    deadlines.enter('a', 'decode', 0);
    deadlines.enter('b', 'decode', 0);
    clock.advance(99);
    deadlines.leave('b', 99);
    expect(late).toEqual([]);
    clock.advance(1);
    expect(late).toEqual([['a', 'decode', 100]]);
    clock.advance(10_000);
    expect(late).toEqual([['a', 'decode', 100]]);
  });

  it('gives each stage its own limit, from when it started on the thread', () => {
    // The stage message reached the main thread 30 ms after the stage began there: 170 ms are left.
    clock.advance(30);
    deadlines.enter('a', 'encode', 0);
    clock.advance(169);
    expect(late).toEqual([]);
    clock.advance(1);
    expect(late).toEqual([['a', 'encode', 200]]);
  });

  it('does not charge a decode for the time another job’s run holds the thread', () => {
    deadlines.enter('decoding', 'decode', 0);
    deadlines.enter('running', 'inference', 10);
    clock.advance(500); // the run holds the thread from 10 to 500: the decode's answer waits
    expect(late).toEqual([]);
    deadlines.enter('running', 'postprocess', 500);
    // 10 ms before the run, and its own time after it: late 90 ms after the run ended.
    clock.advance(89);
    expect(late).toEqual([]);
    clock.advance(1);
    expect(late).toEqual([['decoding', 'decode', 100]]);
  });

  it('bounds the run itself by the inference limit, and then a blocked decode is not the one to blame', () => {
    deadlines.enter('decoding', 'decode', 0);
    deadlines.enter('running', 'inference', 0);
    clock.advance(1000);
    expect(late).toEqual([['running', 'inference', 1000]]);
    deadlines.clear();
    clock.advance(10_000);
    expect(late).toEqual([['running', 'inference', 1000]]);
  });

  it('stops nothing for a job that has no limit set', () => {
    const open = new StageDeadlines<string>(
      { decode: Number.POSITIVE_INFINITY, inference: Number.POSITIVE_INFINITY, encode: Number.POSITIVE_INFINITY },
      (key) => late.push([key, 'decode', 0]),
      clock,
    );
    open.enter('a', 'inference', 0);
    clock.advance(1e9);
    expect(late).toEqual([]);
  });
});
