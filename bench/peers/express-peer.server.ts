/**
 * The original app's design, the peer of scenario 6: one plain HTTP server process (express +
 * multer + sharp + onnxruntime-node), one `POST /infer` route that decodes, preprocesses, runs the
 * model and encodes the result before it answers. No queue and no admission control: every request
 * is taken, and `session.run` runs on the event loop. It runs the worker's own pipeline pieces
 * (decoder, preprocessing, task post-processing and encoding, ORT session options), so only the
 * serving design differs from Fathom's.
 *
 * Env: PEER_MODEL_SPEC (a ModelSpec as JSON), ORT_INTRA_OP_THREADS, PEER_MAX_PIXELS, PORT, HOST.
 * Prints `{"msg":"peer listening","url":...}` once it serves.
 */
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import multer from 'multer';
import * as ort from 'onnxruntime-node';
import { parseTaskOptions } from '@fathom/contracts';
import type { ModelSpec } from '@fathom/models';
import { ImageDecodeError } from '../../apps/worker/src/imaging/image-decoder';
import { DEFAULT_PNG_ENCODING } from '../../apps/worker/src/imaging/png-encoding';
import { finishTask, prepareTaskInput } from '../../apps/worker/src/tasks/task-registry';

const MAX_UPLOAD_BYTES = 25 * 1024 * 1024;

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

/** The worker's inference thread does the same steps in the same order (inference.thread.ts). */
async function inferOnce(session: ort.InferenceSession, spec: ModelSpec, bytes: Buffer, rawOptions: unknown, maxPixels: number) {
  const options = parseTaskOptions(spec.task, { ...spec.defaults, ...(rawOptions as object) });
  const prepared = await prepareTaskInput(bytes, spec, { maxPixels });
  const { tensor } = prepared;
  const outputs = await session.run({ [spec.input.name]: new ort.Tensor('float32', tensor.data, tensor.dims) });
  const output = outputs[spec.output.name];
  if (!output || output.type !== 'float32') throw new Error(`Model output "${spec.output.name}" is missing or not float32.`);
  const result = await finishTask(spec, prepared, {
    options,
    output: { data: output.data as Float32Array, dims: output.dims },
    png: DEFAULT_PNG_ENCODING,
  });
  const primary = result.artifacts.find((a) => a.name === result.primary);
  if (!primary) throw new Error(`no ${result.primary} artifact`);
  return primary;
}

async function main(): Promise<void> {
  const spec = JSON.parse(requiredEnv('PEER_MODEL_SPEC')) as ModelSpec;
  const maxPixels = Number(process.env.PEER_MAX_PIXELS ?? 40_000_000);
  // The worker's session options (inference.thread.ts), with the same thread count.
  const session = await ort.InferenceSession.create(spec.weights, {
    executionProviders: ['cpu'],
    intraOpNumThreads: Number(requiredEnv('ORT_INTRA_OP_THREADS')),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });

  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: MAX_UPLOAD_BYTES, files: 1 } });
  const app = express();
  app.post('/infer', upload.single('image'), async (req: Request, res: Response) => {
    if (!req.file) {
      res.status(400).json({ error: 'the form has no `image` file' });
      return;
    }
    try {
      const body = req.body as Record<string, string | undefined>;
      const artifact = await inferOnce(session, spec, req.file.buffer, body.options ? JSON.parse(body.options) : {}, maxPixels);
      res.status(200).type(artifact.contentType).send(Buffer.from(artifact.bytes));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      res.status(error instanceof ImageDecodeError ? 415 : 500).json({ error: message });
    }
  });
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(error instanceof multer.MulterError ? 413 : 500).json({ error: error.message });
  });

  const server = app.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
    const { address, port } = server.address() as AddressInfo;
    console.log(JSON.stringify({ msg: 'peer listening', url: `http://${address}:${port}`, model: `${spec.name}@${spec.version}` }));
  });
}

main().catch((error: Error) => {
  console.error(JSON.stringify({ msg: 'peer failed', error: error.message }));
  process.exit(1);
});
