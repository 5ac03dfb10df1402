/**
 * The worker's environment: the launcher's, plus MALLOC_ARENA_MAX=2 and
 * MALLOC_MMAP_THRESHOLD_=131072 unless the user chose values. glibc reads both when the process
 * starts, so they must be in the environment the worker is started with.
 * - glibc gives each thread that allocates (inference threads, libvips' and onnxruntime's pools) an
 *   arena of its own, up to 8 per core, and keeps what is freed there for that arena: after a large
 *   image the worker would hold the decoded pixels' memory in arenas no other thread reuses. Two
 *   arenas kept +232 MiB instead of +272 MiB after the pixel flood (README, "Decode memory").
 * - glibc raises its mmap threshold (to up to 32 MiB) each time a large block is freed, after which
 *   blocks that size come from the heap and stay there once freed: a deployment unloaded at runtime
 *   (ADR 0015) left RSS 18 % above where it was before it was loaded (median of 10 cycles); with the
 *   threshold held at 128 KiB, such blocks are mapped and given back, 4 % below (docs/benchmarks.md).
 */
export function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...env,
    MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX || '2',
    MALLOC_MMAP_THRESHOLD_: env.MALLOC_MMAP_THRESHOLD_ || '131072',
  };
}

/** The address to scrape a server on `host`:`port` from this machine: a wildcard host is reached on loopback. */
export function metricsUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `http://${reachable}:${port}/metrics`;
}
