import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { Redis } from 'ioredis';
import { inferenceQueueName, type JobAccepted, type ModelListing } from '@fathom/contracts';
import { colormapLut } from '@fathom/imaging';
import { depthModelsDir, FathomStack, nextEvent, pollStatus, submit, subscribe } from './support/fathom-stack';

/**
 * A grey ramp, 0 at the left to 255 at the right, 700×518: already the size Depth Anything's
 * transform asks for (shorter side 518, sides multiples of 14), so nothing is resampled. The
 * stand-in's output (mean of the normalised channels) is linear in the grey level, so after min/max
 * normalisation the depth map must equal the input ramp.
 */
async function rampImage(): Promise<Buffer> {
  const width = 700;
  const height = 518;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels.fill(rampAt(x), (y * width + x) * 3, (y * width + x) * 3 + 3);
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}
const rampAt = (x: number) => Math.round((x * 255) / 699);

/** 300×200, dark left half, bright right half: resampled to 777×518 for the model and back. */
async function twoToneImage(): Promise<Buffer> {
  const width = 300;
  const height = 200;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) pixels.fill(x < width / 2 ? 40 : 210, (y * width + x) * 3, (y * width + x) * 3 + 3);
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

async function pixelAt(png: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const offset = (y * info.width + x) * info.channels;
  return [...data.subarray(offset, offset + info.channels)];
}

describe('a job’s whole path: upload → queue → worker → socket.io and polling', () => {
  let stack: FathomStack;
  let image: Buffer;
  let ramp: Buffer;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    await stack.startWorker({ MODELS_DIR: depthModelsDir(), WORKER_BUILTIN_MODELS: 'false' });
    image = await twoToneImage();
    ramp = await rampImage();
  });
  afterAll(() => stack.stop());

  it('lists the model the worker serves', async () => {
    const body = (await (await fetch(`${stack.api.url}/v1/models`)).json()) as { models: ModelListing[] };
    expect(body.models).toEqual([
      expect.objectContaining({
        name: 'depth-test',
        task: 'depth',
        aliases: { stable: '1.0.0', canary: null },
        traffic: { stable: 100, canary: 0 },
        versions: [expect.objectContaining({ version: '1.0.0', workers: 1, aliases: ['stable'], executionProviders: ['cpu'] })],
      }),
    ]);
  });

  it('is ready: Redis answers and a worker is alive', async () => {
    const response = await fetch(`${stack.api.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await (await fetch(`${stack.api.url}/healthz`)).json()).toEqual({ status: 'ok' });
  });

  it('submits over REST, completes over socket.io, and downloads a grayscale depth map of the input’s size', async () => {
    const socket = await stack.connect();
    const response = await submit(stack.api, { image, filename: 'two-tone.png', model: 'depth-test', options: { output: 'grayscale' } });
    expect(response.status).toBe(202);
    const accepted = (await response.json()) as JobAccepted;
    expect(accepted).toEqual({
      id: expect.any(String),
      state: 'queued',
      model: { name: 'depth-test', version: '1.0.0', task: 'depth', route: 'stable' },
      links: { self: `/v1/jobs/${accepted.id}`, result: `/v1/jobs/${accepted.id}/result`, events: '/jobs' },
    });
    const completed = nextEvent(socket, 'job.completed', (e) => e.jobId === accepted.id);
    const ack = await subscribe(socket, accepted.id);
    expect(ack.ok).toBe(true);
    const event = await completed;
    expect(event.result).toMatchObject({
      primary: 'depth',
      artifacts: [
        { name: 'depth', contentType: 'image/png', width: 300, height: 200, url: `/v1/jobs/${accepted.id}/result?artifact=depth` },
      ],
      summary: { task: 'depth', output: 'grayscale', modelInput: { width: 784, height: 518 } },
    });
    const summary = event.result.summary as { min: number; max: number };
    expect(summary.max).toBeGreaterThan(summary.min);

    const download = await fetch(`${stack.api.url}${event.links.result}?download=1`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/png');
    expect(download.headers.get('content-disposition')).toContain('filename="two-tone.depth.png"');
    const png = Buffer.from(await download.arrayBuffer());
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([300, 200, 1]);
    // Near = bright: the brighter half has the larger stand-in "inverse depth" (bicubic resampling
    // rings at the edge, so the plateaus are not exactly 0 and 255).
    expect((await pixelAt(png, 20, 100))[0]).toBeLessThan(40);
    expect((await pixelAt(png, 280, 100))[0]).toBeGreaterThan(215);

    // Tracing is off here, yet the job has one trace id: in its status, its response header, and
    // every log line about it in the API and the worker, so the two processes' logs line up.
    const statusResponse = await fetch(`${stack.api.url}/v1/jobs/${accepted.id}`);
    const { traceId } = (await statusResponse.json()) as { traceId: string };
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(statusResponse.headers.get('x-trace-id')).toBe(traceId);
    const linesAbout = (output: string) => output.split('\n').filter((line) => line.includes(`"jobId":"${accepted.id}"`));
    const apiLines = linesAbout(stack.api.process.output());
    const workerLines = linesAbout(stack.workers[0]!.output());
    expect(apiLines.length).toBeGreaterThan(0);
    expect(workerLines.length).toBeGreaterThan(0);
    for (const line of [...apiLines, ...workerLines]) expect(line).toContain(`"traceId":"${traceId}"`);
  });

  it('produces exactly the known answer of the stand-in model when nothing is resampled', async () => {
    const response = await submit(stack.api, { image: ramp, model: 'depth-test', options: { output: 'grayscale' } }, {}, '/v1/infer');
    expect(response.status).toBe(200);
    const png = Buffer.from(await response.arrayBuffer());
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height, meta.channels, meta.depth]).toEqual([700, 518, 1, 'uchar']);
    const { data } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    let worst = 0;
    for (let y = 0; y < 518; y += 37) for (let x = 0; x < 700; x++) worst = Math.max(worst, Math.abs(data[y * 700 + x]! - rampAt(x)));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('reports state, stage timings, model and execution provider to a client that only polls', async () => {
    const accepted = (await (await submit(stack.api, { image, model: 'depth-test' })).json()) as JobAccepted;
    const status = await pollStatus(stack.api, accepted.id, ['completed', 'failed']);
    expect(status).toMatchObject({
      id: accepted.id,
      state: 'completed',
      progress: { stage: 'store', percent: 100 },
      model: { name: 'depth-test', version: '1.0.0', task: 'depth' },
      executionProvider: 'cpu',
      error: null,
      result: { primary: 'depth', artifacts: [{ name: 'depth', contentType: 'image/png', width: 300, height: 200 }] },
    });
    for (const stage of ['queueWait', 'decode', 'preprocess', 'inference', 'postprocess', 'encode', 'total'] as const) {
      expect(status.timings?.[stage]).toBeGreaterThanOrEqual(0);
    }
    expect(status.timings!.total).toBeGreaterThanOrEqual(status.timings!.inference);
    expect(Date.parse(status.timestamps.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(status.timestamps.createdAt));
  });

  it('sends job.state and job.completed to a client that subscribes after the job finished', async () => {
    const response = await submit(stack.api, { image, model: 'depth-test' }, {}, '/v1/infer');
    expect(response.status).toBe(200);
    const jobId = response.headers.get('x-fathom-job-id')!;
    const socket = await stack.connect();
    const state = nextEvent(socket, 'job.state', (s) => s.id === jobId);
    const completed = nextEvent(socket, 'job.completed', (e) => e.jobId === jobId);
    await subscribe(socket, jobId);
    expect((await state).state).toBe('completed');
    expect((await completed).links.result).toBe(`/v1/jobs/${jobId}/result`);
  });

  it('draws a colormapped depth map with the named colormap', async () => {
    const response = await submit(
      stack.api,
      { image: ramp, model: 'depth-test', options: { output: 'colormap', colormap: 'viridis' } },
      {},
      '/v1/infer',
    );
    expect(response.headers.get('content-type')).toBe('image/png');
    const png = Buffer.from(await response.arrayBuffer());
    const lut = colormapLut('viridis');
    for (const x of [0, 350, 699]) {
      const level = rampAt(x);
      const colour = await pixelAt(png, x, 200);
      const nearest = [level - 1, level, level + 1].filter((l) => l >= 0 && l <= 255).map((l) => [...lut.subarray(l * 3, l * 3 + 3)]);
      expect(nearest).toContainEqual(colour);
    }
  });

  it('keeps 16-bit precision in raw16 output', async () => {
    const response = await submit(stack.api, { image: ramp, model: 'depth-test', options: '{"output":"raw16"}' }, {}, '/v1/infer');
    const png = Buffer.from(await response.arrayBuffer());
    const meta = await sharp(png).metadata();
    expect(meta.depth).toBe('ushort');
    const { data } = await sharp(png).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    const values = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
    // 256 grey levels in, 16-bit levels out: the ends are exact, the middle is not rounded to 8 bits.
    expect(values[0]).toBe(0);
    expect(values[699]).toBe(65535);
    expect(Math.abs(values[350]! - (rampAt(350) / 255) * 65535)).toBeLessThan(2);
  });

  it('returns the same job for the same Idempotency-Key, and refuses the key for another request', async () => {
    const first = await submit(stack.api, { image, model: 'depth-test' }, { 'Idempotency-Key': 'upload-42' });
    const again = await submit(stack.api, { image, model: 'depth-test' }, { 'Idempotency-Key': 'upload-42' });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as JobAccepted).id).toBe(((await first.json()) as JobAccepted).id);
    const other = await submit(stack.api, { image, model: 'depth-test', options: { output: 'raw16' } }, { 'Idempotency-Key': 'upload-42' });
    expect(other.status).toBe(409);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('idempotency_key_conflict');
  });

  it('keeps inputs and results for the retention period, then answers 410', async () => {
    const accepted = (await submit(stack.api, { image, model: 'depth-test' }, {}, '/v1/infer')).headers.get('x-fathom-job-id')!;
    const redis = new Redis(stack.redis.url);
    try {
      expect(await stack.blobs.get(stack.blobs.resultKey(accepted, 'depth'))).not.toBeNull();
      // What retention does when it runs out: BullMQ drops the job, the sweeper the blobs.
      await stack.blobs.delete(stack.blobs.resultKey(accepted, 'depth'));
      await redis.del(`fathom:${inferenceQueueName('depth-test', '1.0.0')}:${accepted}`);
    } finally {
      redis.disconnect();
    }
    for (const path of [`/v1/jobs/${accepted}`, `/v1/jobs/${accepted}/result`]) {
      const response = await fetch(`${stack.api.url}${path}`);
      expect(response.status).toBe(410);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('job_expired');
    }
  });

  describe('clear errors, as JSON with a stable code', () => {
    const errorOf = async (response: Response) => ({
      status: response.status,
      ...((await response.json()) as { error: { code: string; message: string; details?: unknown } }).error,
    });

    it.each([
      ['a missing model field', { model: undefined }, 400, 'missing_field'],
      ['an unknown model', { model: 'no-such-model' }, 404, 'model_not_found'],
      ['options that are not JSON', { model: 'depth-test', options: '{oops' }, 400, 'invalid_options'],
      ['an unknown output', { model: 'depth-test', options: { output: 'sepia' } }, 400, 'invalid_options'],
      ['an unknown colormap', { model: 'depth-test', options: { colormap: 'rainbow' } }, 400, 'invalid_options'],
    ])('%s', async (_name, fields, status, code) => {
      const error = await errorOf(await submit(stack.api, { image, ...fields }));
      expect(error).toMatchObject({ status, code, message: expect.any(String) });
    });

    it('a text file named .png is refused by its bytes', async () => {
      const error = await errorOf(
        await submit(stack.api, { image: Buffer.from('hello, not an image'), filename: 'x.png', model: 'depth-test' }),
      );
      expect(error).toMatchObject({ status: 415, code: 'unsupported_image_format' });
    });

    it('too many bytes, or too many pixels read from the header, answer 413', async () => {
      const strict = await stack.startApi({ API_MAX_UPLOAD_BYTES: '4000', IMAGE_MAX_PIXELS: '10000' });
      const noisy = await sharp(randomBytes(64 * 64 * 3), { raw: { width: 64, height: 64, channels: 3 } })
        .png()
        .toBuffer();
      expect(noisy.length).toBeGreaterThan(4000);
      expect(await errorOf(await submit(strict, { image: noisy, model: 'depth-test' }))).toMatchObject({
        status: 413,
        code: 'image_too_large',
      });
      const wide = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#000' } })
        .png()
        .toBuffer();
      expect(wide.length).toBeLessThan(4000);
      const tooManyPixels = await errorOf(await submit(strict, { image: wide, model: 'depth-test' }));
      expect(tooManyPixels).toMatchObject({
        status: 413,
        code: 'image_too_many_pixels',
        details: { width: 200, height: 100, maxPixels: 10000 },
      });
    });

    it('a request that is not multipart', async () => {
      const error = await errorOf(
        await fetch(`${stack.api.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
      );
      expect(error).toMatchObject({ status: 400, code: 'invalid_request' });
    });

    it('an unknown job, an unknown route', async () => {
      expect(await errorOf(await fetch(`${stack.api.url}/v1/jobs/nope`))).toMatchObject({ status: 404, code: 'job_not_found' });
      expect(await errorOf(await fetch(`${stack.api.url}/v2/everything`))).toMatchObject({ status: 404, code: 'route_not_found' });
    });

    it('a subscription to an unknown job', async () => {
      const socket = await stack.connect();
      expect(await subscribe(socket, 'nope')).toEqual({ ok: false, error: { code: 'job_not_found', message: expect.any(String) } });
    });
  });

  it('serves its OpenAPI document at /docs', async () => {
    const doc = (await (await fetch(`${stack.api.url}/docs/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/result', '/v1/infer', '/v1/models', '/healthz', '/readyz']),
    );
    expect((await fetch(`${stack.api.url}/docs`)).headers.get('content-type')).toContain('text/html');
  });
});
