import type { JobStatus } from '@fathom/contracts';
import { completionsByJob, countReasons, retryAfterMs, tallySoak, type FinalAnswer } from './soak-tally';

const at = (iso: string) => Date.parse(iso);

function final(
  state: JobStatus['state'],
  {
    attempts = 1,
    stalls = 0,
    startedAt = '2026-12-07T10:00:00.000Z',
    code,
  }: Partial<{ attempts: number; stalls: number; startedAt: string; code: string }> = {},
): FinalAnswer {
  return {
    httpStatus: 200,
    status: {
      state,
      attempts,
      stalls,
      error: code ? ({ code, message: code } as JobStatus['error']) : null,
      timestamps: { createdAt: '2026-12-07T09:59:59.000Z', startedAt, finishedAt: null },
    },
  };
}

describe('the soak driver honours Retry-After as a client would', () => {
  const now = at('2026-12-07T10:00:00.000Z');

  it('reads delta-seconds and HTTP dates, and falls back when there is nothing usable', () => {
    expect(retryAfterMs('1', now)).toBe(1_000);
    expect(retryAfterMs(' 5 ', now)).toBe(5_000);
    expect(retryAfterMs('Mon, 07 Dec 2026 10:00:03 GMT', now)).toBe(3_000);
    expect(retryAfterMs('Mon, 07 Dec 2026 09:59:00 GMT', now)).toBe(0);
    expect(retryAfterMs(undefined, now)).toBe(1_000);
    expect(retryAfterMs('soon', now, 250)).toBe(250);
  });
});

describe("the workers' runs, from their logs", () => {
  it('counts "job completed" lines per job over every worker, the killed ones included', () => {
    const line = (jobId: string, msg = 'job completed') => JSON.stringify({ level: 'info', jobId, msg });
    const killed = [line('a'), line('b', 'job stalled: its worker stopped renewing its lock; it runs again'), 'not json at all'].join('\n');
    const fresh = [line('a'), line('c')].join('\n');
    expect(Object.fromEntries(completionsByJob([killed, fresh]))).toEqual({ a: 2, c: 1 });
  });

  it("counts failures by their error's first line", () => {
    const stack = 'Error: Connection is closed.\n    at close (node_modules/ioredis/built/Redis.js:1:1)';
    expect(countReasons([stack, stack, `Error: ${'x'.repeat(100)}`])).toEqual({
      'Error: Connection is closed.': 2,
      [`Error: ${'x'.repeat(73)}…`]: 1,
    });
  });
});

describe("the soak's tally of what became of each accepted job", () => {
  const killAt = at('2026-12-07T10:00:10.000Z');

  it('sorts jobs into completed, failed by code, and lost (gone or never ended)', () => {
    const finals = new Map<string, FinalAnswer>([
      ['done', final('completed')],
      ['bad', final('failed', { code: 'invalid_image' })],
      ['dead', final('failed', { attempts: 2, stalls: 2, code: 'worker_lost' })],
      ['stuck', final('active')],
      ['expired', { httpStatus: 410 }],
    ]);
    const tally = tallySoak({ accepted: ['done', 'bad', 'dead', 'stuck', 'expired', 'unread'], finals, completions: new Map(), kills: [] });
    expect(tally).toMatchObject({
      accepted: 6,
      completed: 1,
      failedByCode: { invalid_image: 1, worker_lost: 1 },
      lost: { total: 3, gone: 1, neverEnded: 2, ids: ['stuck', 'expired', 'unread'] },
    });
  });

  it('counts jobs that ran more than once: by their status, and by the workers finishing them twice or running jobs nobody accepted', () => {
    const finals = new Map<string, FinalAnswer>([
      ['once', final('completed')],
      ['stalled', final('completed', { attempts: 2, stalls: 1 })],
      ['retried', final('completed', { attempts: 3, stalls: 0 })],
    ]);
    const completions = new Map([
      ['once', 1],
      ['stalled', 2],
      ['retried', 1],
      ['stranger', 1],
    ]);
    finals.set('unlogged', final('completed'));
    const tally = tallySoak({ accepted: ['once', 'stalled', 'retried', 'unlogged'], finals, completions, kills: [] });
    expect(tally.ranMoreThanOnce).toBe(2);
    expect(tally.stalled).toBe(1);
    expect(tally.retriedAfterFailure).toBe(2);
    expect(tally.workerCompletions).toEqual({ total: 5, jobsCompletedTwice: 1, unknownJobs: 1, completedUnlogged: 1 });
  });

  it("measures recovery from the kill to the held job's next start, leaving out jobs that ended first or stalled again", () => {
    const finals = new Map<string, FinalAnswer>([
      ['recovered', final('completed', { attempts: 2, stalls: 1, startedAt: '2026-12-07T10:00:22.500Z' })],
      ['finishedFirst', final('completed', { startedAt: '2026-12-07T10:00:09.800Z' })],
      ['twice', final('completed', { attempts: 3, stalls: 2, startedAt: '2026-12-07T10:00:40.000Z' })],
    ]);
    const tally = tallySoak({
      accepted: ['recovered', 'finishedFirst', 'twice', 'lostOne'],
      finals,
      completions: new Map(),
      kills: [{ at: killAt, held: ['recovered', 'finishedFirst', 'twice', 'lostOne'] }],
    });
    expect(tally.recoveryMs).toEqual([12_500]);
    expect(tally.heldNotMeasured).toEqual({ endedBeforeKill: 1, stalledAgain: 1 });
    expect(tally.lost.total).toBe(1);
  });
});
