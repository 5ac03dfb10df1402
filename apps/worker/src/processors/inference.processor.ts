import { basename, extname } from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import {
  ErrorCode,
  FathomError,
  formatFailureReason,
  inferenceJobDataSchema,
  progressAt,
  upgradeJobData,
  type InferenceJobData,
  type InferenceResult,
} from '@fathom/contracts';
import type { BlobStore } from '@fathom/storage';
import { InferenceError, type InferencePool } from '../inference/inference.pool';
import { specKey } from '@fathom/models';

/**
 * The thin processor: parse the job, fetch its input, run it on an inference thread, store the
 * artifact, return the typed result. Bad input throws UnrecoverableError (never retried);
 * anything else throws normally so BullMQ retries with backoff.
 */
export class InferenceProcessor {
  constructor(
    private readonly pool: InferencePool,
    private readonly blobs: BlobStore,
    private readonly workerId: string,
    private readonly logger: Logger,
  ) {}

  async process(job: Job<InferenceJobData, InferenceResult>): Promise<InferenceResult> {
    const parsed = inferenceJobDataSchema.safeParse(upgradeJobData(job.data));
    if (!parsed.success) throw giveUp(ErrorCode.InvalidRequest, 'The job data does not match the contract.');
    const data = parsed.data;
    const log = this.logger.child({ jobId: data.jobId, model: data.model.name, version: data.model.version, attempt: job.attemptsMade + 1 });
    // One update at a time, in order: fired together they can reach Redis (and clients) out of order.
    let reported = Promise.resolve();
    const report = (stage: Parameters<typeof progressAt>[0]) => {
      reported = reported
        .then(() => job.updateProgress(progressAt(stage)))
        .catch((error: Error) => log.warn({ msg: 'progress not reported', error: error.message }));
    };

    report('fetch');
    const input = await this.blobs.get(data.input.blobKey);
    if (!input) throw giveUp(ErrorCode.InputExpired, 'The uploaded image expired before a worker could take the job.');

    let output;
    try {
      output = await this.pool.run(specKey(data.model), input, data.options, report);
    } catch (error) {
      if (error instanceof InferenceError && !error.retryable) {
        log.info({ msg: 'job refused', code: error.code, reason: error.message });
        throw giveUp(error.code, error.message);
      }
      log.warn({ msg: 'attempt failed; will retry if attempts remain', error: (error as Error).message });
      const code = error instanceof FathomError ? error.code : ErrorCode.InferenceFailed;
      throw new Error(formatFailureReason({ code, message: (error as Error).message }), { cause: error });
    }

    report('store');
    const artifacts = await Promise.all(
      output.artifacts.map(async (artifact) => {
        const blobKey = this.blobs.resultKey(data.jobId, artifact.name);
        await this.blobs.put(blobKey, Buffer.from(artifact.bytes.buffer, artifact.bytes.byteOffset, artifact.bytes.byteLength));
        const { name, contentType, width, height, extension } = artifact;
        return { name, blobKey, contentType, bytes: artifact.bytes.byteLength, width, height, filename: artifactName(data, name, extension) };
      }),
    );
    const queueWait = Math.max(0, (job.processedOn ?? Date.now()) - job.timestamp);
    const result: InferenceResult = {
      primary: output.primary,
      artifacts,
      summary: output.summary,
      timings: roundTimings({ queueWait, ...output.timings, total: Math.max(0, Date.now() - data.submittedAt) }),
      model: { name: data.model.name, version: data.model.version, variant: data.model.variant },
      executionProvider: output.executionProvider,
      workerId: this.workerId,
    };
    log.info({ msg: 'job completed', timings: result.timings, executionProvider: result.executionProvider });
    return result;
  }
}

/** Milliseconds to 0.1 ms: finer digits are noise in a status document. */
function roundTimings<T extends Record<string, number>>(timings: T): T {
  return Object.fromEntries(Object.entries(timings).map(([stage, ms]) => [stage, Math.round(ms * 10) / 10])) as T;
}

function giveUp(code: ErrorCode, message: string): UnrecoverableError {
  return new UnrecoverableError(formatFailureReason({ code, message }));
}

/** `photo.jpg` → `photo.overlay.png`; no name → `<job id>.overlay.png`. */
export function artifactName(data: Pick<InferenceJobData, 'jobId' | 'input'>, artifact: string, extension: string): string {
  const stem = data.input.filename ? basename(data.input.filename, extname(data.input.filename)).replace(/[\\/\0]/g, '_') : '';
  return `${stem || data.jobId}.${artifact}.${extension}`;
}
