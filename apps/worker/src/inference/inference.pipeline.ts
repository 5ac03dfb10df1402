import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { ErrorCode, type InputFeatures, type JobStage } from '@fathom/contracts';
import { jobInputFeatures, jobOutputFeatures } from '../features/job-features';
import { ImageDecodeError } from '../imaging/image-decoder';
import type { PngEncoding } from '../imaging/png-encoding';
import type { PreparedInput } from '../tasks/model-input.preprocess';
import type { TensorView } from '../tasks/task-pipeline';
import { finishTask, prepareTaskInput } from '../tasks/task-registry';
import { splitBatch, stackBatch } from './batched-tensors';
import type { LoadedSession, OnnxSessionRegistry } from './onnx-session.registry';
import { stageClockNow, type FeatureSide, type RunRequest, type ThreadMessage, type ThreadStage } from './thread-protocol';

/** A job decoded and preprocessed, waiting for its batch. */
export interface PreparedJob {
  request: RunRequest;
  loaded: LoadedSession;
  /** Without the pixels the input's features were computed on: they are not held while the job waits. */
  input: Omit<PreparedInput, 'forFeatures'>;
  /** Undefined when they could not be computed (the job goes on without them). */
  inputFeatures: InputFeatures | undefined;
  /** Only inputs of one model and tensor shape stack into a batch. */
  batchKey: string;
  report: JobReport;
}

/** What the thread tells the main thread about one job: the stage it enters, when, and how it ends. */
class JobReport {
  stage: JobStage = 'decode';

  constructor(
    private readonly post: (message: ThreadMessage) => void,
    readonly requestId: number,
  ) {}

  enter(stage: ThreadStage, batchSize?: number): void {
    this.stage = stage;
    this.post({ type: 'stage', requestId: this.requestId, stage, at: stageClockNow(), ...(batchSize ? { batchSize } : {}) });
  }

  waiting(): void {
    this.post({ type: 'waiting', requestId: this.requestId, at: stageClockNow() });
  }

  failed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    const at = stageClockNow();
    if (error instanceof ImageDecodeError) {
      this.post({ type: 'failed', requestId: this.requestId, at, code: ErrorCode.ImageUndecodable, message, retryable: false });
    } else {
      const failure = `${this.stage} failed: ${message}`;
      this.post({ type: 'failed', requestId: this.requestId, at, code: ErrorCode.InferenceFailed, message: failure, retryable: true });
    }
  }
}

/**
 * A job's pixel work on an inference thread, in three steps the thread entry wires to its batch
 * scheduler: `prepare` (decode and preprocess, on libuv's threads, overlapping whatever runs),
 * `runBatch` (one session.run for a batch, and the checks of what the model answered), and each
 * job's post-processing and encoding, started while the next batch runs.
 */
export class InferencePipeline {
  constructor(
    private readonly sessions: OnnxSessionRegistry,
    private readonly options: { maxPixels: number; png: PngEncoding },
    private readonly post: (message: ThreadMessage) => void,
  ) {}

  /** Decodes and preprocesses a job's input; undefined when the job failed (and was answered). */
  async prepare(request: RunRequest): Promise<PreparedJob | undefined> {
    const report = new JobReport(this.post, request.requestId);
    const loaded = this.sessions.get(request.modelKey);
    if (!loaded) {
      this.post({
        type: 'failed',
        requestId: request.requestId,
        at: stageClockNow(),
        // Unloaded (a retired deployment) between dispatch and here: another worker may serve it.
        code: ErrorCode.ModelNotServed,
        message: `Model ${request.modelKey} is not loaded on this worker's inference thread.`,
        retryable: true,
      });
      return undefined;
    }
    try {
      report.enter('decode');
      const { forFeatures, ...input } = await prepareTaskInput(
        Buffer.from(request.input.buffer, request.input.byteOffset, request.input.byteLength),
        loaded.spec,
        { maxPixels: this.options.maxPixels, onPreprocess: () => report.enter('preprocess') },
      );
      // Part of the preprocess stage, on the pixels already at the model's input size.
      const inputFeatures = jobInputFeatures(forFeatures, { bytes: request.input.byteLength, displayed: input.image });
      report.waiting();
      return { request, loaded, input, inputFeatures, report, batchKey: `${request.modelKey} ${input.tensor.dims.join('×')}` };
    } catch (error) {
      report.failed(error);
      return undefined;
    }
  }

  /** One session.run for jobs of one model and shape; each job's results are then finished without waiting. */
  async runBatch(jobs: PreparedJob[]): Promise<void> {
    const { spec, session } = jobs[0]!.loaded;
    for (const job of jobs) job.report.enter('inference', jobs.length);
    const started = performance.now();
    let outputs: TensorView[];
    try {
      const input = jobs.length === 1 ? jobs[0]!.input.tensor : stackBatch(jobs.map((job) => job.input.tensor));
      const answer = await session.run({ [spec.input.name]: new ort.Tensor('float32', input.data, input.dims) });
      const output = modelOutput(answer, spec.output.name);
      outputs = jobs.length === 1 ? [output] : splitBatch(output, jobs.length);
    } catch (error) {
      for (const job of jobs) job.report.failed(error);
      return;
    }
    this.post({ type: 'batch', modelKey: jobs[0]!.request.modelKey, size: jobs.length, ms: performance.now() - started });
    // Not awaited: these results are drawn and encoded while the next batch runs.
    jobs.forEach((job, i) => void this.finish(job, outputs[i]!));
  }

  /** Post-process and encode one job's share of a batch's output, and hand the result back. */
  private async finish(job: PreparedJob, output: TensorView): Promise<void> {
    const { request, loaded, input, inputFeatures, report } = job;
    try {
      report.enter('postprocess');
      const { features, ...result } = await finishTask(loaded.spec, input, {
        options: request.options,
        raw: request.raw === true,
        output,
        png: this.options.png,
        onEncode: () => report.enter('encode'),
      });
      // Part of the encode stage: the task's numbers (and an image-to-image's output pixels) are still at hand.
      const outputFeatures = jobOutputFeatures(features);
      const skipped: FeatureSide[] = [...(inputFeatures ? [] : ['input' as const]), ...(outputFeatures ? [] : ['output' as const])];
      this.post({
        type: 'done',
        requestId: request.requestId,
        at: stageClockNow(),
        output: {
          ...result,
          width: input.image.width,
          height: input.image.height,
          executionProvider: loaded.executionProvider,
          features: {
            ...(inputFeatures ? { input: inputFeatures } : {}),
            ...(outputFeatures ? { output: outputFeatures } : {}),
            ...(skipped.length > 0 ? { skipped } : {}),
          },
        },
      });
    } catch (error) {
      report.failed(error);
    }
  }
}

/** The output the manifest names, as float32: what every task's post-processing reads. */
export function modelOutput(
  outputs: Readonly<Record<string, { type: string; data: unknown; dims: readonly number[] }>>,
  name: string,
): TensorView {
  const output = outputs[name];
  if (!output || output.type !== 'float32') throw new Error(`Model output "${name}" is missing or not float32.`);
  return { data: output.data as Float32Array, dims: output.dims };
}
