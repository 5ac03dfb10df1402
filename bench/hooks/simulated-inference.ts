import { join } from 'node:path';

/** The preload's setting: milliseconds each session.run holds its inference thread (benchmarks only). */
export const SIMULATED_INFERENCE_ENV = 'BENCH_SIMULATED_INFERENCE_MS';

/**
 * The environment that turns a worker process into a fixed-latency model server for benchmarks
 * and the scale demo: the null model plus `ms` per session.run that uses no CPU, standing in for
 * an accelerator. Production code knows nothing of it: the hook is preloaded (node --require).
 */
export function simulatedInferenceEnv(ms: number, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const preload = join(__dirname, 'simulated-inference.preload.js');
  return {
    NODE_OPTIONS: [env.NODE_OPTIONS, `--require ${JSON.stringify(preload)}`].filter(Boolean).join(' '),
    [SIMULATED_INFERENCE_ENV]: String(ms),
  };
}

/** How a result names the fixed-latency stand-in: the null model plus `ms` of CPU-free wait per session.run. */
export function fixedLatencyStandIn(ms: number): string {
  return `the null model (28×28 depth stand-in) plus a ${ms} ms wait per session.run that uses no CPU (the bench's preloaded hook, ${SIMULATED_INFERENCE_ENV})`;
}
