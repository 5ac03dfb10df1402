/**
 * An inference thread: owns one onnxruntime session per model (created once, reused) and runs a
 * job's whole pixel pipeline. `session.run` blocks the thread it runs on for the whole inference,
 * so it must not be the worker's main thread, where BullMQ renews locks and heartbeats are sent.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { ErrorCode, type ExecutionProvider, type JobStage } from '@fathom/contracts';
import { decodeToRgb, ImageDecodeError } from '../imaging/image-decoder';
import { planModelInputSize } from '../imaging/resize-plan';
import { buildInputTensor } from '../tasks/model-input.preprocess';
import { TASK_PIPELINES } from '../tasks/task-registry';
import type { TaskInput } from '../tasks/task-pipeline';
import type { ModelSpec } from '@fathom/models';
import { specKey } from '@fathom/models';
import { type LoadedModel, type RunRequest, type StageTimes, type ThreadInit, type ThreadMessage } from './thread-protocol';

interface LoadedSession {
  spec: ModelSpec;
  session: ort.InferenceSession;
  executionProvider: ExecutionProvider;
}

const init = workerData as ThreadInit;
const port = parentPort!;
const sessions = new Map<string, LoadedSession>();
const post = (message: ThreadMessage) => port.postMessage(message);

async function createSession(spec: ModelSpec): Promise<{ session: ort.InferenceSession; executionProvider: ExecutionProvider; fallbackFrom?: string }> {
  const options = (providers: string[]): ort.InferenceSession.SessionOptions => ({
    executionProviders: providers,
    intraOpNumThreads: init.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const preferred = init.executionProviders[0] ?? 'cpu';
  try {
    const session = await ort.InferenceSession.create(spec.weights, options(init.executionProviders));
    return { session, executionProvider: preferred as ExecutionProvider };
  } catch (error) {
    if (preferred === 'cpu') throw error;
    // The GPU provider is missing or broken on this host: serve on CPU and say so.
    const session = await ort.InferenceSession.create(spec.weights, options(['cpu']));
    return { session, executionProvider: 'cpu', fallbackFrom: `${preferred}: ${(error as Error).message.split('\n')[0]}` };
  }
}

/**
 * One inference on a blank image, so the first job does not pay for lazy initialisation, and a
 * check that the manifest describes this model: tensor names, and labels for every class. A
 * mismatch stops start-up naming the manifest and the field, instead of failing every job later.
 */
async function warmUp(loaded: LoadedSession): Promise<void> {
  const { input, output, labels, manifestFile, task } = loaded.spec;
  const { session } = loaded;
  if (!session.inputNames.includes(input.name)) {
    throw new Error(`${manifestFile}: input.name: "${input.name}" is not an input of this model (inputs: ${session.inputNames.join(', ')})`);
  }
  if (!session.outputNames.includes(output.name)) {
    throw new Error(`${manifestFile}: output.name: "${output.name}" is not an output of this model (outputs: ${session.outputNames.join(', ')})`);
  }
  const side = input.resize.mode === 'fixed' ? input.resize.width : input.resize.target;
  const size = planModelInputSize(side, side, input.resize);
  const dims = input.layout === 'NCHW' ? [1, 3, size.height, size.width] : [1, size.height, size.width, 3];
  const tensor = new ort.Tensor('float32', new Float32Array(3 * size.width * size.height), dims);
  let result: ort.InferenceSession.OnnxValueMapType;
  try {
    result = await session.run({ [input.name]: tensor });
  } catch (error) {
    throw new Error(`${manifestFile}: the warm-up inference failed with input ${input.name} ${JSON.stringify(dims)} (check input.layout and input.resize): ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
  const outDims = result[output.name]?.dims ?? [];
  const classes = task === 'classification' ? outDims.at(-1) : task === 'segmentation' ? (output.layout === 'NHWC' ? outDims.at(-1) : outDims[1]) : undefined;
  if (labels && classes !== undefined && classes > 1 && labels.length !== classes) {
    throw new Error(`${manifestFile}: labels: ${labels.length} names for a model with ${classes} classes`);
  }
}

async function load(): Promise<LoadedModel[]> {
  const loaded: LoadedModel[] = [];
  for (const spec of init.models) {
    const t0 = performance.now();
    const { session, executionProvider, fallbackFrom } = await createSession(spec);
    const t1 = performance.now();
    const entry = { spec, session, executionProvider };
    await warmUp(entry);
    sessions.set(specKey(spec), entry);
    loaded.push({ key: specKey(spec), executionProvider, fallbackFrom, loadMs: t1 - t0, warmupMs: performance.now() - t1 });
  }
  return loaded;
}

async function run(request: RunRequest): Promise<void> {
  const loaded = sessions.get(request.modelKey);
  if (!loaded) {
    post({ type: 'failed', requestId: request.requestId, code: ErrorCode.ModelNotFound, message: `Model ${request.modelKey} is not loaded here.`, retryable: false });
    return;
  }
  const { spec, session } = loaded;
  const timings: StageTimes = { decode: 0, preprocess: 0, inference: 0, postprocess: 0, encode: 0 };
  let stage: JobStage = 'decode';
  let started = performance.now();
  const enter = (next: JobStage & keyof StageTimes) => {
    const now = performance.now();
    if (stage in timings) timings[stage as keyof StageTimes] = now - started;
    started = now;
    stage = next;
    post({ type: 'stage', requestId: request.requestId, stage: next });
  };
  try {
    enter('decode');
    const rgb = await decodeToRgb(Buffer.from(request.input.buffer, request.input.byteOffset, request.input.byteLength), { maxPixels: init.maxPixels });
    enter('preprocess');
    const tensor = await buildInputTensor(rgb, spec.input);
    enter('inference');
    const outputs = await session.run({ [spec.input.name]: new ort.Tensor('float32', tensor.data, tensor.dims) });
    enter('postprocess');
    const output = outputs[spec.output.name];
    if (!output || output.type !== 'float32') throw new Error(`Model output "${spec.output.name}" is missing or not float32.`);
    const pipeline = TASK_PIPELINES[spec.task];
    const input = {
      spec,
      rgb,
      modelInput: { width: tensor.width, height: tensor.height },
      options: request.options,
      output: { data: output.data as Float32Array, dims: output.dims },
    } as TaskInput<typeof spec.task>;
    const processed = await pipeline.postprocess(input as never);
    enter('encode');
    const result = await pipeline.encode(processed, input as never);
    timings.encode = performance.now() - started;
    post({
      type: 'done',
      requestId: request.requestId,
      output: { ...result, width: rgb.width, height: rgb.height, executionProvider: loaded.executionProvider, timings },
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof ImageDecodeError) {
      post({ type: 'failed', requestId: request.requestId, code: ErrorCode.ImageUndecodable, message, retryable: false });
    } else {
      post({ type: 'failed', requestId: request.requestId, code: ErrorCode.InferenceFailed, message: `${stage} failed: ${message}`, retryable: true });
    }
  }
}

port.on('message', (message: RunRequest) => {
  void run(message);
});

load().then(
  (models) => post({ type: 'ready', models }),
  (error: Error) => post({ type: 'init-failed', message: error.message.split('\n')[0] ?? error.message }),
);
