import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  node: string;
  date: string;
}

/** What the figures were measured on: they mean little without it. */
export function machineInfo(): MachineInfo {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // Not Linux: os.cpus() already named it.
  }
  return { cpu, cores: availableParallelism(), node: process.version, date: new Date().toISOString() };
}
