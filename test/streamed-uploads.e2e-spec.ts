import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_KEY_PREFIX, type JobAccepted } from '@fathom/contracts';
import { depthModelsDir, FathomStack, NULL_MODEL_INPUT, submit, type ApiInstance } from './support/fathom-stack';

const MODEL = 'stream-depth';
const SIDE = 2000;

type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };

/**
 * Uploads stream from the form to the object store (the job's input key) as they arrive, in
 * whichever order the client sends the form's parts; a submission refused for any reason leaves
 * nothing behind in the store, and the worker reads the input by its key.
 */
describe('uploads streamed to the object store', () => {
  let stack: FathomStack;
  let strict: ApiInstance;
  /** A 2000×2000 RGB noise PNG: 12 MB that does not compress, far more than the API inspects whole. */
  let photo: Buffer;

  /** Jobs accepted: their inputs are the worker's to delete, once BullMQ has recorded their end. */
  const accepted = new Set<string>();
  /** What the store holds besides results and accepted jobs' inputs: inputs, and staging files of writes under way or abandoned. */
  const strayInputsAndStaging = (): string[] => {
    const list = (dir: string) =>
      existsSync(join(stack.blobDir, dir)) ? readdirSync(join(stack.blobDir, dir)).map((f) => `${dir}/${f}`) : [];
    return [...list(`${DEFAULT_KEY_PREFIX}/input`).filter((f) => !accepted.has(f.split('/').pop()!)), ...list('.staging')];
  };

  beforeAll(async () => {
    photo = await sharp(randomBytes(SIDE * SIDE * 3), { raw: { width: SIDE, height: SIDE, channels: 3 } })
      .png({ compressionLevel: 1 })
      .toBuffer();
    stack = await FathomStack.start();
    await Promise.all([
      stack.startApi(),
      stack.startWorker({ MODELS_DIR: depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT), WORKER_BUILTIN_MODELS: 'false' }),
    ]);
    // A second API with tighter limits, on the same store: 2 MP and 8 MiB.
    strict = await stack.startApi({ IMAGE_MAX_PIXELS: '2000000', API_MAX_UPLOAD_BYTES: String(8 * 1024 * 1024) });
  });
  afterAll(() => stack.stop());

  it('runs a 12 MB photo sent before its model field: the worker reads it by its key', async () => {
    expect(photo.length).toBeGreaterThan(12_000_000);
    const response = await submit(stack.api, { image: photo, model: MODEL, imageFirst: true });
    expect(response.status).toBe(202);
    const job = (await response.json()) as JobAccepted;
    accepted.add(job.id);
    const status = await stack.jobEnd(job.id, { timeoutMs: 60_000 });
    expect(status.state).toBe('completed');
    const depth = status.result!.artifacts.find((a) => a.name === 'depth')!;
    expect([depth.width, depth.height]).toEqual([SIDE, SIDE]);
    expect(strayInputsAndStaging()).toEqual([]);
  });

  it('refuses a submission after its image was stored (an unknown model, a stray field) and leaves nothing in the store', async () => {
    const unknownModel = await submit(stack.api, { image: photo, model: 'no-such-model', imageFirst: true });
    expect(unknownModel.status).toBe(404);
    expect(((await unknownModel.json()) as ErrorBody).error.code).toBe('model_not_found');

    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(photo)]), 'photo.png');
    form.append('model', MODEL);
    form.append('colour', 'blue');
    const strayField = await fetch(`${stack.api.url}/v1/jobs`, { method: 'POST', body: form });
    expect(strayField.status).toBe(400);
    expect(((await strayField.json()) as ErrorBody).error.message).toMatch(/Unknown form field "colour"/);

    expect(strayInputsAndStaging()).toEqual([]);
  });

  it('answers a replayed Idempotency-Key with the first job, keeping no second copy of the upload', async () => {
    const headers = { 'Idempotency-Key': 'large-upload-1' };
    const first = (await (await submit(stack.api, { image: photo, model: MODEL }, headers)).json()) as JobAccepted;
    accepted.add(first.id);
    await stack.jobEnd(first.id, { timeoutMs: 60_000 });
    const again = await submit(stack.api, { image: photo, model: MODEL, imageFirst: true }, headers);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as JobAccepted).id).toBe(first.id);
    // Another image under the same key is a different request, whichever way it was hashed.
    const other = await submit(stack.api, { image: Buffer.concat([photo.subarray(0, -1), Buffer.from([0])]), model: MODEL }, headers);
    expect(other.status).toBe(409);
    expect(strayInputsAndStaging()).toEqual([]);
  });

  it('refuses too many pixels from the header of a large upload, with the model’s errors still first, storing nothing', async () => {
    const tooManyPixels = await submit(strict, { image: photo.subarray(0, 7 * 1024 * 1024), model: MODEL });
    expect(tooManyPixels.status).toBe(413);
    expect(((await tooManyPixels.json()) as ErrorBody).error).toMatchObject({
      code: 'image_too_many_pixels',
      details: { width: SIDE, height: SIDE, maxPixels: 2_000_000 },
    });
    const unknownModelToo = await submit(strict, { image: photo.subarray(0, 7 * 1024 * 1024), model: 'no-such-model', imageFirst: true });
    expect(((await unknownModelToo.json()) as ErrorBody).error.code).toBe('model_not_found');
    expect(strayInputsAndStaging()).toEqual([]);
  });

  it('refuses an upload past API_MAX_UPLOAD_BYTES with the limit, storing nothing', async () => {
    const tooLarge = await submit(strict, { image: photo, model: MODEL });
    expect(tooLarge.status).toBe(413);
    expect(((await tooLarge.json()) as ErrorBody).error).toMatchObject({
      code: 'image_too_large',
      details: { limitBytes: 8 * 1024 * 1024 },
    });
    expect(strayInputsAndStaging()).toEqual([]);
  });
});
