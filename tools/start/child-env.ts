/**
 * The worker's environment: the launcher's, plus MALLOC_ARENA_MAX=2 unless the user chose a value.
 * glibc gives each thread that allocates (inference threads, libvips' and onnxruntime's pools) an
 * arena of its own, up to 8 per core, and keeps what is freed there for that arena: after a large
 * image the worker would hold the decoded pixels' memory in arenas no other thread reuses. Two
 * arenas kept +232 MiB instead of +272 MiB after the pixel flood (README, "Decode memory"); glibc
 * reads the variable when the process starts, so it must be in the environment the worker is
 * started with.
 */
export function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX || '2' };
}

/** The address to scrape a server on `host`:`port` from this machine: a wildcard host is reached on loopback. */
export function metricsUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `http://${reachable}:${port}/metrics`;
}
