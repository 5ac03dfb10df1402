import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { startS3Server } from '@fathom/testing';
import { depthModelsDir, FathomStack, LOAD_TEST_LIMITS_ENV, NULL_MODEL_INPUT, submit } from '../test/support/fathom-stack';
import { round1 } from './bench-stats';
import { peakRssMiB } from './process-stats';
import type { BenchContext, ScenarioResult } from './scenario';

const MODEL = 'null-depth';
const CONCURRENT = 20;
/** Noise does not compress: an RGB PNG of this many pixels is about 25 MB. */
const SIDE = { width: 2810, height: 2810 };
const MAX_UPLOAD_BYTES = 32 * 1024 * 1024;

/** A process's resident memory now (VmRSS), in MiB; null where there is no /proc. */
function rssMiB(pid: number | undefined): number | null {
  try {
    const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib ? Math.round(Number(kib) / 1024) : null;
  } catch {
    return null;
  }
}

/**
 * Uploads: the API's peak resident memory while 20 clients each send a 25 MB PNG at once (issue
 * 12: the upload streams from the multipart parser to the object store, never whole in memory).
 * The API's VmHWM (peak RSS, from /proc) is read after start-up and one small upload, and again
 * after every round of 20; what it grew by is set against the bytes in flight.
 */
export async function uploadsScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const rounds = ctx.quick ? 1 : 3;
  const raw = randomBytes(SIDE.width * SIDE.height * 3);
  const image = await sharp(raw, { raw: { ...SIDE, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
  const inFlightMiB = round1((CONCURRENT * image.length) / 2 ** 20);
  const filesystem = await measure(image, rounds, {});
  // The S3 backend against s3rver in this (the benchmark's) process, over HTTP.
  const s3 = await startS3Server();
  const bucket = await measure(image, rounds, s3.env).finally(() => s3.remove());
  const figures = (run: Measurement) => {
    const growth = run.peakRssMiB !== null && run.rssBeforeMiB !== null ? run.peakRssMiB - run.rssBeforeMiB : null;
    return {
      apiRssBeforeMiB: run.rssBeforeMiB,
      apiPeakRssMiB: run.peakRssMiB,
      apiPeakGrowthMiB: growth,
      // What share of the bytes in flight the API held at its peak: near 1 or more when each upload is buffered whole.
      peakGrowthPerByteInFlight: growth === null ? null : Math.round((growth / inFlightMiB) * 100) / 100,
      rounds: run.rounds,
    };
  };
  return {
    scenario: 'uploads',
    model: `${MODEL}@1.0.0`,
    standIn:
      'null model (the generated depth stand-in at a fixed 28×28 input): the worker is there to serve the model, the API is measured',
    command: ctx.command,
    setup: {
      image: `${SIDE.width}×${SIDE.height} RGB noise PNG, ${image.length} bytes`,
      load: `${rounds} round(s) of ${CONCURRENT} uploads sent at once (fetch + FormData, model field first), each round awaited`,
      apiEnv: { API_MAX_UPLOAD_BYTES: MAX_UPLOAD_BYTES, IMAGE_MAX_PIXELS: SIDE.width * SIDE.height },
      backends: 'a folder (STORAGE_BACKEND=filesystem), then an S3 bucket (s3rver in the benchmark process); a fresh stack each',
      rss: 'the API process’s VmRSS after start-up and one small upload, and its VmHWM (peak RSS) after each round, from /proc/<pid>/status',
    },
    figures: { uploadBytesInFlightMiB: inFlightMiB, filesystem: figures(filesystem), s3: figures(bucket) },
  };
}

interface Measurement {
  rssBeforeMiB: number | null;
  peakRssMiB: number | null;
  rounds: Array<{ peakRssMiB: number | null; seconds: number; statuses: Record<string, number> }>;
}

/** A fresh stack on the store `storageEnv` names; the API's RSS before, and its peak after each round. */
async function measure(image: Buffer, rounds: number, storageEnv: Record<string, string>): Promise<Measurement> {
  const small = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#406080' } })
    .png()
    .toBuffer();
  const stack = await FathomStack.start();
  try {
    const [api] = await Promise.all([
      stack.startApi({
        ...storageEnv,
        ...LOAD_TEST_LIMITS_ENV,
        API_MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
        API_MAX_QUEUE_DEPTH: '100000',
        IMAGE_MAX_PIXELS: String(SIDE.width * SIDE.height),
      }),
      stack.startWorker({
        ...storageEnv,
        MODELS_DIR: depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT),
        WORKER_BUILTIN_MODELS: 'false',
      }),
    ]);
    const pid = api.process.child.pid;
    const warm = await submit(api, { image: small, model: MODEL });
    if (warm.status !== 202) throw new Error(`the warm-up upload was answered ${warm.status}: ${await warm.text()}`);
    const rssBeforeMiB = rssMiB(pid);
    const perRound: Measurement['rounds'] = [];
    for (let round = 0; round < rounds; round++) {
      const started = Date.now();
      const responses = await Promise.all(
        Array.from({ length: CONCURRENT }, async () => {
          try {
            const response = await submit(api, { image, filename: 'noise.png', model: MODEL });
            const body = (await response.json()) as { error?: { code: string } };
            return response.status === 202 ? '202' : `${response.status} ${body.error?.code ?? ''}`;
          } catch (error) {
            // The connection failed (reset, the API gone): counted, not fatal to the run.
            const cause = (error as { cause?: { code?: string; message?: string } }).cause;
            return `no answer: ${cause?.code ?? cause?.message ?? String(error)}`;
          }
        }),
      );
      const statuses: Record<string, number> = {};
      for (const status of responses) statuses[status] = (statuses[status] ?? 0) + 1;
      perRound.push({ peakRssMiB: peakRssMiB(pid), seconds: round1((Date.now() - started) / 1000), statuses });
      if (api.process.child.exitCode !== null || api.process.child.signalCode !== null) {
        throw new Error(`the API exited (${api.process.child.exitCode ?? api.process.child.signalCode}) in round ${round + 1}`);
      }
    }
    return { rssBeforeMiB, peakRssMiB: perRound.at(-1)?.peakRssMiB ?? null, rounds: perRound };
  } finally {
    await stack.stop();
  }
}
