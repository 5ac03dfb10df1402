import { Redis } from 'ioredis';
import type { WorkerProcess } from '../test/support/fathom-stack';

/** The value of an unlabelled metric in a Prometheus text exposition; NaN when it is not there. */
export function unlabelledMetric(exposition: string, name: string): number {
  const line = exposition.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1).split(' ')[0]);
}

/** A process's resident set and V8 heap in use, as its own /metrics reports them (prom-client's default metrics). */
export async function processMemory(metricsUrl: string): Promise<{ rss: number; heapUsed: number }> {
  const response = await fetch(metricsUrl);
  if (response.status !== 200) throw new Error(`GET ${metricsUrl} answered ${response.status}`);
  const exposition = await response.text();
  const rss = unlabelledMetric(exposition, 'process_resident_memory_bytes');
  const heapUsed = unlabelledMetric(exposition, 'nodejs_heap_size_used_bytes');
  if (!Number.isFinite(rss) || !Number.isFinite(heapUsed))
    throw new Error(`${metricsUrl} lacks process_resident_memory_bytes or nodejs_heap_size_used_bytes`);
  return { rss, heapUsed };
}

/** A few fields of Redis's INFO: the server's pid (for its CPU time) and the memory its data takes. */
export async function redisInfo(url: string): Promise<{ pid: number | undefined; usedMemoryBytes: number }> {
  const redis = new Redis(url);
  try {
    const info = await redis.info();
    const field = (name: string) => new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1];
    const pid = field('process_id');
    return { pid: pid === undefined ? undefined : Number(pid), usedMemoryBytes: Number(field('used_memory')) };
  } finally {
    redis.disconnect();
  }
}

export const mebibytes = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

/** Stops one worker the way an orchestrator does (SIGTERM: finish what it holds, withdraw, exit). */
export async function stopWorker(worker: WorkerProcess): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.kill('SIGTERM');
  await worker.waitForExit(30_000);
}
