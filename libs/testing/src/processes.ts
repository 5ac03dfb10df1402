import { readdirSync, readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';

export interface NodeProcess {
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  waitForExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

/** Runs a built script with `node`, collecting its output; waits are event-driven, with timeouts. */
export function spawnNodeProcess(script: string, env: Record<string, string>, opts: { inheritEnv?: boolean } = {}): NodeProcess {
  const child = spawn(process.execPath, [script], {
    env: { ...(opts.inheritEnv === false ? {} : process.env), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const onData = (data: Buffer) => (output += data.toString());
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  return {
    child,
    output: () => output,
    kill: (signal) => void child.kill(signal),
    waitForLine(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const find = () => output.split('\n').find((line) => pattern.test(line));
        const done = (error?: Error, line?: string) => {
          clearTimeout(timer);
          child.stdout?.off('data', check);
          child.stderr?.off('data', check);
          child.off('exit', exited);
          if (error) reject(error);
          else resolve(line!);
        };
        const check = () => {
          const line = find();
          if (line !== undefined) done(undefined, line);
        };
        const exited = () => done(new Error(`${script} exited before printing ${pattern}:\n${output}`));
        const timer = setTimeout(() => done(new Error(`${script} did not print ${pattern} within ${timeoutMs} ms:\n${output}`)), timeoutMs);
        child.stdout?.on('data', check);
        child.stderr?.on('data', check);
        child.once('exit', exited);
        check();
      });
    },
    waitForExit(timeoutMs) {
      let timer: NodeJS.Timeout;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${script} did not exit within ${timeoutMs} ms:\n${output}`)), timeoutMs);
      });
      return Promise.race([exit, timeout]).finally(() => clearTimeout(timer));
    },
  };
}

/** Whether a process exists and is not a zombie (a zombie has exited; only its parent has not read its status). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The pids whose parent is `pid`, from /proc (Linux). */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return children;
}

/**
 * Resolves once none of `pids` runs any more; rejects naming those still running after timeoutMs.
 * Linux gives no event for the end of a process that is not our child, so this looks every 50 ms.
 */
export async function waitUntilGone(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const running = pids.filter(isRunning);
    if (running.length === 0) return;
    if (Date.now() > deadline) throw new Error(`still running after ${timeoutMs} ms: ${running.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
