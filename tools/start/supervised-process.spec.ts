import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { RestartPolicy } from './restart-backoff';
import { SupervisedProcess, type ProcessName, type Spawned } from './supervised-process';

/** A real Node child running `code`; its pid is its own. */
function nodeChild(code: string): () => Spawned {
  return () => {
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'ignore'] });
    return { child, pid: Promise.resolve(child.pid!) };
  };
}

/** A logger whose lines the test reads back, and a way to wait for one. */
function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = JSON.parse(chunk.toString()) as Record<string, unknown>;
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.match(line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
      done();
    },
  });
  return {
    log: pino({ base: null }, stream),
    lines,
    next: (match: (l: Record<string, unknown>) => boolean) =>
      new Promise<Record<string, unknown>>((resolve) => waiters.push({ match, resolve })),
  };
}

const policy: RestartPolicy = { delayMs: 50, maxDelayMs: 150, resetAfterMs: 60_000 };

describe('a supervised process', () => {
  const running: SupervisedProcess[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop(1_000)));
  });

  function supervised(code: string, log: pino.Logger, restarted: ProcessName[] = [], failed: string[] = []): SupervisedProcess {
    const p = new SupervisedProcess('worker', nodeChild(code), policy, log, {
      restarted: (name) => restarted.push(name),
      failedToStart: (name, ending) => failed.push(`${name}: ${ending}`),
    });
    running.push(p);
    return p;
  }

  it('is restarted each time it stops, the delay doubling up to the cap, each restart logged and counted', async () => {
    const { log, lines, next } = capturedLog();
    const restarted: ProcessName[] = [];
    const p = supervised('process.exit(3)', log, restarted);
    const fourth = next((l) => l.msg === 'process started' && l.attempt === 4);
    await p.start();
    p.supervise();
    await fourth;
    const restarts = lines.filter((l) => l.msg === 'the worker stopped (exit code 3); restarting');
    expect(
      restarts.slice(0, 4).map(({ process, code, signal, attempt, delayMs }) => ({ process, code, signal, attempt, delayMs })),
    ).toEqual([50, 100, 150, 150].map((delayMs, i) => ({ process: 'worker', code: 3, signal: null, attempt: i + 1, delayMs })));
    expect(restarted).toEqual(['worker', 'worker', 'worker', 'worker']);
  });

  it('before it is supervised, a stop is reported as a failure to start, not restarted', async () => {
    const { log, lines } = capturedLog();
    const failed: string[] = [];
    const p = supervised('process.exit(1)', log, [], failed);
    const spawned = await p.start();
    await new Promise((resolve) => spawned.child.once('exit', resolve));
    expect(failed).toEqual(['worker: exit code 1']);
    expect(lines.filter((l) => l.msg === 'process started')).toHaveLength(1);
  });

  it('stopped, gets SIGTERM, and SIGKILL when it ignores it past the grace', async () => {
    const { log, lines, next } = capturedLog();
    const p = supervised("process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)", log);
    const { child } = await p.start();
    await new Promise((resolve) => child.stdout!.once('data', resolve)); // its SIGTERM handler is in place
    const graceMs = 200;
    const started = Date.now();
    const killed = next((l) => l.msg === 'the worker was killed');
    await p.stop(graceMs);
    await killed;
    expect(child.signalCode).toBe('SIGKILL');
    expect(Date.now() - started).toBeGreaterThanOrEqual(graceMs - 1); // timers may fire up to 1 ms early
    expect(lines.map((l) => l.msg)).toContain(`the worker did not stop within ${graceMs} ms; killing it`);
  });

  it('stopped, is not restarted, and a pending restart is dropped', async () => {
    const { log, lines, next } = capturedLog();
    const p = supervised('process.exit(0)', log);
    const firstRestart = next((l) => typeof l.msg === 'string' && l.msg.endsWith('restarting'));
    await p.start();
    p.supervise();
    await firstRestart;
    await p.stop(1_000);
    const count = lines.length;
    await new Promise((resolve) => setTimeout(resolve, 3 * policy.maxDelayMs));
    expect(lines.slice(count)).toEqual([]);
  });
});
