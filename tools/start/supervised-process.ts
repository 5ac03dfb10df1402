import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { nextAttempt, restartDelay, type RestartPolicy } from './restart-backoff';

/** The processes `npm start` runs: the metric's `process` label and the logs' `process` field. */
export const PROCESS_NAMES = ['redis-server', 'database', 'api', 'worker'] as const;
export type ProcessName = (typeof PROCESS_NAMES)[number];

export interface Spawned {
  child: ChildProcess;
  /** The pid of the program itself (redis-server's, not its guard's). */
  pid: Promise<number>;
}

export interface SupervisorHooks {
  /** Counted in fathom_launcher_restarts_total. */
  restarted(name: ProcessName): void;
  /** The process stopped before the launcher took it as up: a restart would not help (bad config, bad manifest). */
  failedToStart(name: ProcessName, ending: string): void;
}

/**
 * One child of the launcher, restarted with backoff whenever it stops without being asked to, once
 * the launcher has seen the whole service up (`supervise()`); before that, a stop ends the launcher.
 */
export class SupervisedProcess {
  private current?: Spawned & { startedAt: number; exited: Promise<void>; programPid?: number };
  private attempt = 0;
  private supervising = false;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;

  constructor(
    readonly name: ProcessName,
    private readonly spawnChild: () => Spawned,
    private readonly policy: RestartPolicy,
    private readonly log: Logger,
    private readonly hooks: SupervisorHooks,
  ) {}

  /** Starts the process; resolves once its program runs (redis-server: accepts connections). */
  async start(): Promise<Spawned> {
    const spawned = this.spawnChild();
    const startedAt = Date.now();
    const exited = new Promise<void>((resolve) => {
      let done = false;
      const ended = (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        resolve();
        this.onExit(startedAt, code, signal);
      };
      spawned.child.once('exit', ended);
      spawned.child.once('error', () => ended(null, null));
    });
    const current: NonNullable<typeof this.current> = { ...spawned, startedAt, exited };
    this.current = current;
    const pid = await spawned.pid;
    current.programPid = pid;
    this.log.info({ msg: 'process started', process: this.name, pid, attempt: this.attempt });
    return spawned;
  }

  /** From now on, a process that stops is restarted. */
  supervise(): void {
    this.supervising = true;
  }

  private onExit(startedAt: number, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping) return;
    const pid = this.current?.programPid ?? this.current?.child.pid;
    const ending = signal ?? `exit code ${code}`;
    if (!this.supervising) {
      this.hooks.failedToStart(this.name, ending);
      return;
    }
    const ranForMs = Date.now() - startedAt;
    this.attempt = nextAttempt(this.attempt, ranForMs, this.policy);
    const delayMs = restartDelay(this.attempt, this.policy);
    this.log.warn({
      msg: `the ${this.name} stopped (${ending}); restarting`,
      process: this.name,
      pid,
      code,
      signal,
      ranForMs,
      attempt: this.attempt,
      delayMs,
    });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.hooks.restarted(this.name);
      this.start().catch((error: Error) =>
        this.log.error({ msg: `the ${this.name} could not be restarted`, process: this.name, error: error.message }),
      );
    }, delayMs);
  }

  /**
   * Stops the process for good: `signal`, then SIGKILL if it has not exited within graceMs.
   * Resolves once it has exited.
   */
  async stop(graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const current = this.current;
    if (!current || current.child.exitCode !== null || current.child.signalCode !== null) return;
    current.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    const outcome = await Promise.race([current.exited, late]);
    clearTimeout(timer);
    if (outcome !== 'late') {
      const { exitCode: code, signalCode } = current.child;
      this.log.info({ msg: `the ${this.name} stopped`, process: this.name, pid: current.programPid, code, signal: signalCode });
    } else {
      this.log.warn({ msg: `the ${this.name} did not stop within ${graceMs} ms; killing it`, process: this.name, pid: current.child.pid });
      current.child.kill('SIGKILL');
      // A guard killed outright cannot end its program: kill the program too.
      const programPid = current.programPid;
      if (programPid !== undefined && programPid !== current.child.pid) killQuietly(programPid);
      await current.exited;
      this.log.warn({ msg: `the ${this.name} was killed`, process: this.name, pid: current.programPid });
    }
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
