import { copyFileSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { JobStatus, ModelListing, TaskSummary } from '@fathom/contracts';
import { hasShared, repoRoot, sharedPath } from '@fathom/testing';
import { FathomStack, submit } from './support/fathom-stack';

const MODEL = 'models/image-to-image/super-resolution-10.onnx';
const CAT = 'fixtures/images/cc0_chelsea_cat.png';
const LARGE = 'fixtures/images/apple_depthpro_example_3024x2268.jpg';
const present = hasShared(MODEL) && hasShared(CAT) && hasShared(LARGE);
if (!present) console.warn(`skipping the image-to-image e2e tests: ../shared/${MODEL} or the photos are absent`);

/** MODELS_DIR with the documented example manifest beside the real weights. */
function modelsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-i2i-'));
  copyFileSync(join(repoRoot(), 'docs/examples/models/super-resolution-10.model.yaml'), join(dir, 'super-resolution-10.model.yaml'));
  symlinkSync(sharedPath(MODEL), join(dir, 'super-resolution-10.onnx'));
  return dir;
}

/** Mean absolute difference per channel value between the upload and the result shrunk back to its size. */
async function differenceFrom(upload: Buffer, enlarged: Buffer, size: { width: number; height: number }): Promise<number> {
  const original = await sharp(upload).resize(size.width, size.height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
  const back = await sharp(enlarged).resize(size.width, size.height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
  let sum = 0;
  for (let i = 0; i < original.length; i++) sum += Math.abs(original[i]! - back[i]!);
  return sum / original.length;
}

(present ? describe : describe.skip)('image-to-image: super-resolution-10 end to end through the real queue', () => {
  let stack: FathomStack;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    await stack.startWorker({ MODELS_DIR: modelsDir() });
  });
  afterAll(() => stack.stop());

  async function enlarge(image: Buffer, filename: string) {
    const response = await submit(stack.api, { image, filename, model: 'super-resolution-10' }, {}, '/v1/infer');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    const png = Buffer.from(await response.arrayBuffer());
    const status = (await (await fetch(`${stack.api.url}/v1/jobs/${response.headers.get('x-fathom-job-id')}`)).json()) as JobStatus;
    return { png, status, summary: status.result!.summary as TaskSummary<'image-to-image'> };
  }

  it('is listed as an image-to-image model', async () => {
    const { models } = (await (await fetch(`${stack.api.url}/v1/models`)).json()) as { models: ModelListing[] };
    expect(models).toContainEqual(expect.objectContaining({ name: 'super-resolution-10', task: 'image-to-image' }));
  });

  it('returns the cat photo 3× as large as a PNG that, shrunk back, is the photo', async () => {
    const upload = readFileSync(sharedPath(CAT));
    const { png, status, summary } = await enlarge(upload, 'cat.png');
    const enlarged = await sharp(png).metadata();
    expect([enlarged.width, enlarged.height]).toEqual([451 * 3, 300 * 3]);
    expect(summary).toEqual({
      task: 'image-to-image',
      scale: 3,
      input: { width: 451, height: 300 },
      output: { width: 1353, height: 900 },
      tiles: 6,
      modelInput: { width: 224, height: 224 },
    });
    expect(status.result!.artifacts).toEqual([
      expect.objectContaining({ name: 'image', contentType: 'image/png', width: 1353, height: 900, bytes: png.length }),
    ]);
    const difference = await differenceFrom(upload, png, { width: 451, height: 300 });
    console.log(`cat ×3, shrunk back: mean absolute difference ${difference.toFixed(2)} levels`);
    expect(difference).toBeLessThan(4);
  });

  it('shrinks a 3024×2268 photo to fit 16 tiles first, and says so', async () => {
    const upload = readFileSync(sharedPath(LARGE));
    const { png, summary } = await enlarge(upload, 'large.jpg');
    expect(summary.shrunkFrom).toEqual({ width: 3024, height: 2268 });
    expect(summary.tiles).toBeLessThanOrEqual(16);
    // Same aspect (within a pixel), three times the size it was shrunk to.
    expect(Math.abs(summary.input.width / summary.input.height - 3024 / 2268)).toBeLessThan(0.01);
    expect(summary.output).toEqual({ width: summary.input.width * 3, height: summary.input.height * 3 });
    const enlarged = await sharp(png).metadata();
    expect([enlarged.width, enlarged.height]).toEqual([summary.output.width, summary.output.height]);
    const difference = await differenceFrom(upload, png, summary.input);
    console.log(`${summary.input.width}×${summary.input.height} ×3, shrunk back: mean absolute difference ${difference.toFixed(2)} levels`);
    expect(difference).toBeLessThan(4);
  });
});
