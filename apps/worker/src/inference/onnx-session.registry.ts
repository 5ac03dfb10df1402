import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { ExecutionProvider } from '@fathom/contracts';
import { channelCount, specKey, type BatchingSpec, type ModelSpec } from '@fathom/models';
import { planModelInputSize } from '../imaging/resize-plan';
import { checkTensorNames, checkWarmUpOutput } from './manifest.checks';
import type { LoadedModel, ThreadInit } from './thread-protocol';

/** A model's session, created once and reused by every job of that model on this thread. */
export interface LoadedSession {
  spec: ModelSpec;
  session: ort.InferenceSession;
  executionProvider: ExecutionProvider;
  /** The manifest's batching, with maxBatch 1 when this model cannot take batches. */
  batching: BatchingSpec;
}

type SessionOptions = Pick<ThreadInit, 'executionProviders' | 'intraOpThreads'>;

/**
 * One onnxruntime session per model, each created on the first execution provider that loads it
 * and warmed up (checking the manifest against the model) before the thread says it is ready.
 * Models are added and removed at runtime too (registered deployments, ADR 0015): a removed
 * model's session is released, its native memory given back.
 */
export class OnnxSessionRegistry {
  private readonly sessions = new Map<string, LoadedSession>();
  private readonly info = new Map<string, LoadedModel>();

  private constructor(private readonly options: SessionOptions) {}

  /** Creates and warms up a session for each model, one after the other; the first failure stops it. */
  static async load(models: readonly ModelSpec[], options: SessionOptions): Promise<OnnxSessionRegistry> {
    const registry = new OnnxSessionRegistry(options);
    for (const spec of models) await registry.add(spec);
    return registry;
  }

  /** What is loaded, for the main thread's log and metrics. */
  get loaded(): LoadedModel[] {
    return [...this.info.values()];
  }

  /**
   * Creates and warms up one more model's session. A session that fails its warm-up or the
   * manifest checks is released before the error is thrown: nothing of it stays.
   */
  async add(spec: ModelSpec): Promise<LoadedModel> {
    const key = specKey(spec);
    if (this.sessions.has(key)) throw new Error(`${spec.manifestFile}: ${key} is already loaded`);
    const t0 = performance.now();
    const { session, executionProvider, fallbackFrom } = await createSession(spec, this.options);
    const t1 = performance.now();
    let warm: Awaited<ReturnType<typeof warmUp>>;
    try {
      warm = await warmUp(spec, session);
    } catch (error) {
      await session.release().catch(() => undefined);
      throw error;
    }
    const loaded: LoadedModel = {
      key,
      executionProvider,
      fallbackFrom,
      loadMs: t1 - t0,
      warmupMs: performance.now() - t1,
      maxBatch: warm.batching.maxBatch,
      batchingOff: warm.batchingOff,
    };
    this.sessions.set(key, { spec, session, executionProvider, batching: warm.batching });
    this.info.set(key, loaded);
    return loaded;
  }

  /** Forgets a model and releases its session; false when it was not loaded. */
  async remove(key: string): Promise<boolean> {
    const loaded = this.sessions.get(key);
    if (!loaded) return false;
    this.sessions.delete(key);
    this.info.delete(key);
    await loaded.session.release();
    return true;
  }

  get(modelKey: string): LoadedSession | undefined {
    return this.sessions.get(modelKey);
  }
}

/** The provider list a session tries: the configured one, always ending with the CPU. */
export function providersToTry(configured: readonly string[]): string[] {
  return configured.includes('cpu') ? [...configured] : [...configured, 'cpu'];
}

/**
 * A session on the first provider of ORT_EXECUTION_PROVIDERS that loads, trying the list from each
 * position in turn (tensorrt,cuda,cpu → cuda,cpu → cpu): a host without TensorRT still gets CUDA.
 * Every provider passed over is named with onnxruntime's reason, for the log and the metrics.
 */
async function createSession(
  spec: ModelSpec,
  options: SessionOptions,
): Promise<{ session: ort.InferenceSession; executionProvider: ExecutionProvider; fallbackFrom?: string }> {
  const sessionOptions = (providers: string[]): ort.InferenceSession.SessionOptions => ({
    executionProviders: providers,
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const providers = providersToTry(options.executionProviders);
  const failures: string[] = [];
  for (let i = 0; i < providers.length; i++) {
    const tried = providers.slice(i);
    try {
      const session = await ort.InferenceSession.create(spec.weights, sessionOptions(tried));
      return {
        session,
        executionProvider: tried[0] as ExecutionProvider,
        ...(failures.length > 0 ? { fallbackFrom: failures.join('; ') } : {}),
      };
    } catch (error) {
      // The CPU provider always loads: an error there is the model's, not the host's.
      if (tried[0] === 'cpu') throw unreadableWeights(error) ?? error;
      failures.push(`${tried[0]}: ${firstLine(error)}`);
    }
  }
  throw new Error(`no execution provider could load the model (${failures.join('; ')})`);
}

/**
 * onnxruntime's "Load model from <path> failed:Protobuf parsing failed." names a cache path and
 * not the cause: weights that are not a whole ONNX file (cut short by a download, or another file).
 */
function unreadableWeights(error: unknown): Error | undefined {
  const message = firstLine(error);
  if (!/Protobuf parsing failed/i.test(message)) return undefined;
  return new Error(
    'the weights are not a complete ONNX model (onnxruntime: "Protobuf parsing failed"): a file cut short by its upload or download, ' +
      'or another kind of file; send the whole .onnx file again',
    { cause: error },
  );
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
 * does not pay for lazy initialisation, and the manifest checks (manifest.checks.ts). Returns the
 * batching this model gets: none when the model cannot take the batch the manifest asks for.
 */
async function warmUp(spec: ModelSpec, session: ort.InferenceSession): Promise<{ batching: BatchingSpec; batchingOff?: string }> {
  const { input, output, manifestFile } = spec;
  checkTensorNames(spec, session);
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
      `${manifestFile}: the warm-up inference failed with input ${input.name} ${JSON.stringify(dimsOf(1))} (check input.layout and input.resize): ${firstLine(error)}`,
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
    return off(`a batch of ${maxBatch} failed (${firstLine(error)})`);
  }
  return { batching: spec.batching };
}

const firstLine = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
