/**
 * Benchmarks only, never loaded by Fathom itself: preloaded into a worker process with `node
 * --require` (simulatedInferenceEnv in simulated-inference.ts), it makes every session.run on an
 * inference thread hold that thread for BENCH_SIMULATED_INFERENCE_MS more without using the CPU,
 * as an accelerator's latency would. Worker threads run the process's preloads too, so the
 * patch lands in each inference thread; the main thread never loads onnxruntime for it.
 */
import { isMainThread } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
import { SIMULATED_INFERENCE_ENV } from './simulated-inference';

const ms = Number(process.env[SIMULATED_INFERENCE_ENV] ?? 0);
if (!isMainThread && ms > 0) {
  // Required here, not imported: the main thread must not load onnxruntime for a hook it does not use.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node') as typeof Ort;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  // The typings describe a factory; at run time InferenceSession is the class every session is made of.
  const sessions = ort.InferenceSession as unknown as { prototype: Pick<Ort.InferenceSession, 'run'> };
  const run = sessions.prototype.run;
  sessions.prototype.run = async function (this: Ort.InferenceSession, ...args: Parameters<typeof run>) {
    const outputs = await run.apply(this, args);
    // Blocks this thread without using the CPU, as a GPU's session.run would.
    Atomics.wait(cell, 0, 0, ms);
    return outputs;
  } as typeof run;
}
