import sharp from 'sharp';
import type { JobAccepted } from '@fathom/contracts';
import { buildSlowDepthModel } from '@fathom/testing';
import { depthModelsDir, FathomStack, nextEvent, submit, subscribe } from './support/fathom-stack';

const SIDE = 518;

describe('failures: transient ones are retried with backoff, bad input is not, and the worker stays up', () => {
  let stack: FathomStack;
  let square: Buffer;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi({ API_JOB_ATTEMPTS: '3', API_JOB_BACKOFF_MS: '20' });
    // The slow stand-in only runs on 518×518 inputs: any other shape makes onnxruntime fail.
    const modelsDir = depthModelsDir(buildSlowDepthModel({ side: SIDE, matmulLayers: 100 }), 'square-only');
    await stack.startWorker({ MODELS_DIR: modelsDir, WORKER_BUILTIN_MODELS: 'false', WORKER_CONCURRENCY: '1' });
    square = await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background: '#445566' } })
      .png()
      .toBuffer();
  });
  afterAll(() => stack.stop());

  it('retries a job whose inference fails, then reports job.failed with a code after the last attempt', async () => {
    const socket = await stack.connect();
    const wide = await sharp({ create: { width: 600, height: 400, channels: 3, background: '#445566' } })
      .png()
      .toBuffer();
    const job = (await (await submit(stack.api, { image: wide, model: 'square-only' })).json()) as JobAccepted;
    const failed = nextEvent(socket, 'job.failed', (e) => e.jobId === job.id);
    await subscribe(socket, job.id);
    expect((await failed).error).toEqual({ code: 'inference_failed', message: expect.stringContaining('inference failed') });
    const status = await stack.jobEnd(job.id);
    expect(status.attempts).toBe(3);
    expect(status.error?.code).toBe('inference_failed');
    const result = await fetch(`${stack.api.url}/v1/jobs/${job.id}/result`);
    expect(result.status).toBe(409);
    expect(((await result.json()) as { error: { code: string } }).error.code).toBe('job_failed');
  });

  it('gives up at once, without retrying, when the input is gone', async () => {
    const busy = (await (await submit(stack.api, { image: square, model: 'square-only' })).json()) as JobAccepted;
    await stack.jobStarted(busy.id);
    const orphan = (await (await submit(stack.api, { image: square, model: 'square-only' })).json()) as JobAccepted;
    await stack.blobs.delete(stack.blobs.inputKey(orphan.id));
    const status = await stack.jobEnd(orphan.id);
    expect(status).toMatchObject({ state: 'failed', attempts: 1, error: { code: 'input_expired' } });
  });

  it('accepts a JPEG whose damage lies past its headers, then fails it at once as undecodable, without retrying', async () => {
    const socket = await stack.connect();
    const accepted = await submit(stack.api, { image: await jpegWithBrokenLaterScan(), filename: 'broken-scan.jpg', model: 'square-only' });
    expect(accepted.status).toBe(202);
    const job = (await accepted.json()) as JobAccepted;
    const failed = nextEvent(socket, 'job.failed', (e) => e.jobId === job.id);
    await subscribe(socket, job.id);
    expect((await failed).error).toEqual({ code: 'image_undecodable', message: expect.stringContaining('could not be decoded') });
    expect(await stack.jobEnd(job.id)).toMatchObject({ attempts: 1, error: { code: 'image_undecodable' } });
  });

  it('is still alive and serving afterwards', async () => {
    expect(stack.workers[0]!.child.exitCode).toBeNull();
    const job = (await (await submit(stack.api, { image: square, model: 'square-only' })).json()) as JobAccepted;
    expect((await stack.jobEnd(job.id)).state).toBe('completed');
  });
});

/**
 * A progressive JPEG whose third scan names a component that does not exist: its headers up to the
 * first scan are sound (the API reads only those for JPEG), and libjpeg stops at the third scan.
 */
async function jpegWithBrokenLaterScan(): Promise<Buffer> {
  const jpeg = await sharp({
    create: { width: 320, height: 240, channels: 3, background: '#336699', noise: { type: 'gaussian', mean: 128, sigma: 30 } },
  })
    .jpeg({ progressive: true })
    .toBuffer();
  const scans = [...jpeg.keys()].filter((i) => jpeg[i] === 0xff && jpeg[i + 1] === 0xda);
  const broken = Buffer.from(jpeg);
  broken[scans[2]! + 5] = 0x09; // SOS: FFDA, length (2), component count, then the first component id
  return broken;
}
