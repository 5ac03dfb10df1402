/**
 * An inference thread: owns one onnxruntime session per model (created once, reused) and runs a
 * job's whole pixel pipeline. `session.run` blocks the thread it runs on for the whole inference,
 * so it must not be the worker's main thread, where BullMQ renews locks and heartbeats are sent.
 *
 * Jobs are pipelined: each is decoded and preprocessed as soon as it arrives (sharp works on
 * libuv's threads, so the next images are decoded while a session.run holds this thread), then
 * waits in a batch queue by model and tensor shape; one batch runs at a time, and its results are
 * post-processed and encoded while the next batch runs.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { ErrorCode, type ExecutionProvider, type JobStage } from '@fathom/contracts';
import { channelCount, specKey, type BatchingSpec, type ModelSpec } from '@fathom/models';
import { ImageDecodeError } from '../imaging/image-decoder';
import { planModelInputSize } from '../imaging/resize-plan';
import type { PreparedInput } from '../tasks/model-input.preprocess';
import type { TensorView } from '../tasks/task-pipeline';
import { checkWarmUpOutput, finishTask, prepareTaskInput } from '../tasks/task-registry';
import { BatchQueue } from './batch-queue';
import { splitBatch, stackBatch } from './batched-tensors';
import { type LoadedModel, type RunRequest, type StageTimes, type ThreadInit, type ThreadMessage } from './thread-protocol';

interface LoadedSession {
  spec: ModelSpec;
  session: ort.InferenceSession;
  executionProvider: ExecutionProvider;
  /** The manifest's batching, with maxBatch 1 when this model cannot take batches. */
  batching: BatchingSpec;
}

/** A job decoded and preprocessed, waiting for its batch. */
interface Prepared {
  request: RunRequest;
  loaded: LoadedSession;
  input: PreparedInput;
  clock: StageClock;
}

const init = workerData as ThreadInit;
const port = parentPort!;
const sessions = new Map<string, LoadedSession>();
const batches = new BatchQueue<Prepared>();
const post = (message: ThreadMessage) => port.postMessage(message);
// Images are seen once: libvips' operation cache would only hold memory.
sharp.cache(false);
sharp.concurrency(init.sharpThreads);

/** A job's stage times, and the stage it is in, reported to the main thread as it moves on. */
class StageClock {
  readonly timings: StageTimes = { decode: 0, preprocess: 0, inference: 0, postprocess: 0, encode: 0 };
  stage: JobStage = 'decode';
  /** When the running stage started; undefined between stages (waiting for a batch). */
  private started: number | undefined;

  constructor(private readonly requestId: number) {}

  enter(next: JobStage & keyof StageTimes, batchSize?: number): void {
    this.stop();
    this.stage = next;
    this.started = performance.now();
    post({ type: 'stage', requestId: this.requestId, stage: next, ...(batchSize ? { batchSize } : {}) });
  }

  /** Ends the running stage's time (waiting for a batch belongs to no stage). */
  stop(): void {
    if (this.started !== undefined && this.stage in this.timings)
      this.timings[this.stage as keyof StageTimes] += performance.now() - this.started;
    this.started = undefined;
  }
}

/**
 * A session on the first provider of ORT_EXECUTION_PROVIDERS that loads, trying the list from each
 * position in turn (tensorrt,cuda,cpu → cuda,cpu → cpu): a host without TensorRT still gets CUDA.
 * Every provider passed over is named with onnxruntime's reason, for the log and the metrics.
 */
async function createSession(
  spec: ModelSpec,
): Promise<{ session: ort.InferenceSession; executionProvider: ExecutionProvider; fallbackFrom?: string }> {
  const options = (providers: string[]): ort.InferenceSession.SessionOptions => ({
    executionProviders: providers,
    intraOpNumThreads: init.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const providers = init.executionProviders.includes('cpu') ? init.executionProviders : [...init.executionProviders, 'cpu'];
  const failures: string[] = [];
  for (let i = 0; i < providers.length; i++) {
    const tried = providers.slice(i);
    try {
      const session = await ort.InferenceSession.create(spec.weights, options(tried));
      return {
        session,
        executionProvider: tried[0] as ExecutionProvider,
        ...(failures.length > 0 ? { fallbackFrom: failures.join('; ') } : {}),
      };
    } catch (error) {
      // The CPU provider always loads: an error there is the model's, not the host's.
      if (tried[0] === 'cpu') throw error;
      failures.push(`${tried[0]}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no execution provider could load the model (${failures.join('; ')})`);
}

/** Whether the model's input takes any batch size (a symbolic or -1 first dimension). */
function hasDynamicBatchAxis(session: ort.InferenceSession, inputName: string): boolean {
  const meta = session.inputMetadata.find((m) => m.name === inputName);
  if (!meta?.isTensor) return false;
  const batch = meta.shape[0];
  return typeof batch === 'string' || (typeof batch === 'number' && batch < 0);
}

/**
 * One inference on a blank image (at the largest batch the manifest asks for), so the first job
 * does not pay for lazy initialisation, and a check that the manifest describes this model: tensor
 * names, and labels for every class. A mismatch stops start-up naming the manifest and the field,
 * instead of failing every job later. Returns the batching this model gets.
 */
async function warmUp(spec: ModelSpec, session: ort.InferenceSession): Promise<{ batching: BatchingSpec; batchingOff?: string }> {
  const { input, output, manifestFile } = spec;
  if (!session.inputNames.includes(input.name)) {
    throw new Error(
      `${manifestFile}: input.name: "${input.name}" is not an input of this model (inputs: ${session.inputNames.join(', ')})`,
    );
  }
  if (!session.outputNames.includes(output.name)) {
    throw new Error(
      `${manifestFile}: output.name: "${output.name}" is not an output of this model (outputs: ${session.outputNames.join(', ')})`,
    );
  }
  const side = input.resize.mode === 'fixed' ? input.resize.width : input.resize.target;
  const size = planModelInputSize(side, side, input.resize);
  const channels = channelCount(input);
  const dimsOf = (batch: number) =>
    input.layout === 'NCHW' ? [batch, channels, size.height, size.width] : [batch, size.height, size.width, channels];
  const blank = (batch: number) =>
    session.run({ [input.name]: new ort.Tensor('float32', new Float32Array(batch * channels * size.width * size.height), dimsOf(batch)) });
  let result: ort.InferenceSession.OnnxValueMapType;
  try {
    result = await blank(1);
  } catch (error) {
    throw new Error(
      `${manifestFile}: the warm-up inference failed with input ${input.name} ${JSON.stringify(dimsOf(1))} (check input.layout and input.resize): ${(error as Error).message.split('\n')[0]}`,
      { cause: error },
    );
  }
  checkWarmUpOutput(spec, { input: dimsOf(1), output: result[output.name]?.dims ?? [] });
  const { maxBatch } = spec.batching;
  if (maxBatch <= 1) return { batching: spec.batching };
  const off = (reason: string) => ({
    batching: { ...spec.batching, maxBatch: 1 },
    batchingOff: `batching.maxBatch: ${maxBatch} asked for, but ${reason}; jobs run back to back`,
  });
  if (!hasDynamicBatchAxis(session, input.name)) return off(`input ${input.name} has a fixed batch axis`);
  try {
    const batched = await blank(maxBatch);
    if (batched[output.name]?.dims[0] !== maxBatch) return off(`output ${output.name} does not follow the batch axis`);
  } catch (error) {
    return off(`a batch of ${maxBatch} failed (${(error as Error).message.split('\n')[0]})`);
  }
  return { batching: spec.batching };
}

async function load(): Promise<LoadedModel[]> {
  const loaded: LoadedModel[] = [];
  for (const spec of init.models) {
    const t0 = performance.now();
    const { session, executionProvider, fallbackFrom } = await createSession(spec);
    const t1 = performance.now();
    const { batching, batchingOff } = await warmUp(spec, session);
    sessions.set(specKey(spec), { spec, session, executionProvider, batching });
    loaded.push({
      key: specKey(spec),
      executionProvider,
      fallbackFrom,
      loadMs: t1 - t0,
      warmupMs: performance.now() - t1,
      maxBatch: batching.maxBatch,
      batchingOff,
    });
  }
  return loaded;
}

function fail(requestId: number, stage: JobStage, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ImageDecodeError) {
    post({ type: 'failed', requestId, code: ErrorCode.ImageUndecodable, message, retryable: false });
  } else {
    post({ type: 'failed', requestId, code: ErrorCode.InferenceFailed, message: `${stage} failed: ${message}`, retryable: true });
  }
}

/** Decode and preprocess at once (overlapping whatever runs), then queue for a batch. */
async function accept(request: RunRequest): Promise<void> {
  const loaded = sessions.get(request.modelKey);
  if (!loaded) {
    post({
      type: 'failed',
      requestId: request.requestId,
      code: ErrorCode.ModelNotFound,
      message: `Model ${request.modelKey} is not loaded here.`,
      retryable: false,
    });
    return;
  }
  const clock = new StageClock(request.requestId);
  try {
    clock.enter('decode');
    const input = await prepareTaskInput(
      Buffer.from(request.input.buffer, request.input.byteOffset, request.input.byteLength),
      loaded.spec,
      {
        maxPixels: init.maxPixels,
        onPreprocess: () => clock.enter('preprocess'),
      },
    );
    clock.stop();
    batches.add(
      `${request.modelKey} ${input.tensor.dims.join('×')}`,
      loaded.batching,
      { request, loaded, input, clock },
      performance.now(),
    );
    pump();
  } catch (error) {
    fail(request.requestId, clock.stage, error);
  }
}

let running = false;
let timer: NodeJS.Timeout | undefined;

/** Starts the next due batch unless one is running; else waits for the earliest due time. */
function pump(): void {
  if (running) return;
  clearTimeout(timer);
  timer = undefined;
  const next = batches.next(performance.now());
  if (!next) return;
  if ('waitMs' in next) {
    timer = setTimeout(pump, Math.max(1, Math.ceil(next.waitMs)));
    return;
  }
  running = true;
  void runBatch(next.items).finally(() => {
    running = false;
    pump();
  });
}

/** Blocks this thread for `ms` without using the CPU, as a GPU's session.run would. */
const simulatedWait = (() => {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  return (ms: number) => Atomics.wait(cell, 0, 0, ms);
})();

async function runBatch(items: Prepared[]): Promise<void> {
  const { spec, session } = items[0]!.loaded;
  const modelKey = items[0]!.request.modelKey;
  for (const item of items) item.clock.enter('inference', items.length);
  const started = performance.now();
  let views: TensorView[];
  try {
    const input = items.length === 1 ? items[0]!.input.tensor : stackBatch(items.map((item) => item.input.tensor));
    const outputs = await session.run({ [spec.input.name]: new ort.Tensor('float32', input.data, input.dims) });
    if (init.simulatedInferenceMs > 0) simulatedWait(init.simulatedInferenceMs);
    const output = outputs[spec.output.name];
    if (!output || output.type !== 'float32') throw new Error(`Model output "${spec.output.name}" is missing or not float32.`);
    const view = { data: output.data as Float32Array, dims: output.dims };
    views = items.length === 1 ? [view] : splitBatch(view, items.length);
  } catch (error) {
    for (const item of items) fail(item.request.requestId, 'inference', error);
    return;
  }
  post({ type: 'batch', modelKey, size: items.length, ms: performance.now() - started });
  // Not awaited: these results are drawn and encoded while the next batch runs.
  items.forEach((item, i) => void finish(item, views[i]!));
}

/** Post-process and encode one job's share of a batch's output, and hand the result back. */
async function finish(item: Prepared, output: TensorView): Promise<void> {
  const { request, loaded, input: prepared, clock } = item;
  try {
    clock.enter('postprocess');
    const result = await finishTask(loaded.spec, prepared, {
      options: request.options,
      output,
      png: init.png,
      onEncode: () => clock.enter('encode'),
    });
    clock.stop();
    post({
      type: 'done',
      requestId: request.requestId,
      output: {
        ...result,
        width: prepared.image.width,
        height: prepared.image.height,
        executionProvider: loaded.executionProvider,
        timings: clock.timings,
      },
    });
  } catch (error) {
    fail(request.requestId, clock.stage, error);
  }
}

port.on('message', (message: RunRequest) => {
  void accept(message);
});

load().then(
  (models) => post({ type: 'ready', models }),
  (error: Error) => post({ type: 'init-failed', message: error.message.split('\n')[0] ?? error.message }),
);
