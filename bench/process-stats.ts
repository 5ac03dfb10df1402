import { readFileSync } from 'node:fs';

/** USER_HZ: 100 on every Linux build Node runs on. */
const CLOCK_TICKS = 100;

/** CPU seconds so far of each named process. */
export function cpuSnapshot(pids: Record<string, number | undefined>): Record<string, number | null> {
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
}

/** CPU seconds (user + system) a process has used so far, from /proc; null where there is none. */
export function cpuSeconds(pid: number | undefined): number | null {
  try {
    // After the command name (which may hold spaces and parentheses): utime and stime are fields 12 and 13.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** A process's peak resident memory so far (VmHWM), in MiB; null where there is no /proc. */
export function peakRssMiB(pid: number | undefined): number | null {
  try {
    const kib = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib ? Math.round(Number(kib) / 1024) : null;
  } catch {
    return null;
  }
}

/** Where the CPU went during a run: each process's CPU per job (or request), in milliseconds. */
export function cpuMsPerJob(
  before: Record<string, number | null>,
  after: Record<string, number | null>,
  requests: number,
): Record<string, number> {
  const perRequest: Record<string, number> = {};
  for (const [name, end] of Object.entries(after)) {
    const start = before[name];
    if (end !== null && start !== null && start !== undefined) perRequest[name] = Math.round(((end - start) * 1000 * 10) / requests) / 10;
  }
  return perRequest;
}
