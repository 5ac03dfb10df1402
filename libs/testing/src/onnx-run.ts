import { Worker } from 'node:worker_threads';

export interface PlainTensor {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * One onnxruntime inference on a plain thread, for tests: jest's sandbox realm trips
 * onnxruntime's Float32Array checks, so a session cannot run in a spec itself. Inputs and outputs
 * are float32.
 */
export function runOnnx(model: string, inputs: Record<string, PlainTensor>): Promise<Record<string, PlainTensor>> {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const ort = require('onnxruntime-node');
     (async () => {
       const session = await ort.InferenceSession.create(workerData.model, { logSeverityLevel: 3 });
       const feeds = {};
       for (const [name, t] of Object.entries(workerData.inputs)) feeds[name] = new ort.Tensor('float32', new Float32Array(t.data), t.dims);
       const out = await session.run(feeds);
       const results = {};
       for (const [name, t] of Object.entries(out)) results[name] = { data: t.data, dims: [...t.dims] };
       await session.release();
       parentPort.postMessage(results);
     })().catch((error) => parentPort.postMessage({ error: String(error && error.message) }));`,
    {
      eval: true,
      workerData: {
        model,
        inputs: Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, { data: t.data, dims: [...t.dims] }])),
      },
    },
  );
  return new Promise((resolve, reject) => {
    worker.once('message', (message: { error?: string } | Record<string, PlainTensor>) => {
      void worker.terminate();
      if (typeof message.error === 'string') reject(new Error(message.error));
      else resolve(message as Record<string, PlainTensor>);
    });
    worker.once('error', reject);
  });
}
