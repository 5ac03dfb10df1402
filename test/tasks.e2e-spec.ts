import { copyFileSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { JobStatus } from '@fathom/contracts';
import {
  buildClassificationStandInModel,
  buildHeatmapStandInModel,
  buildSegmentationStandInModel,
  hasShared,
  renderTextImage,
  repoRoot,
  sharedPath,
} from '@fathom/testing';
import { FathomStack, submit } from './support/fathom-stack';

const DEEPLAB = 'models/segmentation/deeplabv3_mnv2_voc_257.onnx';
const withDeeplab = hasShared(DEEPLAB) && hasShared('fixtures/images/cc0_chelsea_cat.png');
if (!withDeeplab) console.warn(`skipping the DeepLabV3 tests: ../shared/${DEEPLAB} or the cat photo is absent`);

/** MODELS_DIR with the generated stand-ins, and the real DeepLabV3 when ../shared has it. */
function modelsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-tasks-'));
  const write = (name: string, model: Buffer, manifest: object) => {
    writeFileSync(join(dir, `${name}.onnx`), model);
    writeFileSync(join(dir, `${name}.model.json`), JSON.stringify({ name, version: '1.0.0', weights: `${name}.onnx`, ...manifest }));
  };
  const fixed = { mode: 'fixed', width: 64, height: 64 };
  write('bright-regions', buildSegmentationStandInModel(), {
    task: 'segmentation',
    input: { resize: fixed },
    labels: ['background', 'bright'],
  });
  write('foreground', buildHeatmapStandInModel(), {
    task: 'segmentation',
    input: { name: 'x', resize: fixed },
    output: { name: 'sigmoid_0.tmp_0', kind: 'probabilities' },
  });
  write('dominant-colour', buildClassificationStandInModel(), {
    task: 'classification',
    input: { resize: fixed },
    labels: ['red', 'green', 'blue'],
  });
  if (withDeeplab) {
    // The README's example manifest, exactly as documented, beside the real weights and labels.
    copyFileSync(join(repoRoot(), 'docs/examples/models/deeplabv3-mnv2-voc.model.yaml'), join(dir, 'deeplabv3-mnv2-voc.model.yaml'));
    symlinkSync(sharedPath(DEEPLAB), join(dir, 'deeplabv3_mnv2_voc_257.onnx'));
    symlinkSync(sharedPath('models/segmentation/deeplabv3_mnv2_voc_257.labels.txt'), join(dir, 'deeplabv3_mnv2_voc_257.labels.txt'));
  }
  return dir;
}

describe('every task end to end through the real queue', () => {
  let stack: FathomStack;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    await stack.startWorker({ MODELS_DIR: modelsDir() });
  });
  afterAll(() => stack.stop());

  async function run(model: string, image: Buffer, options: object = {}): Promise<{ status: JobStatus; primary: Response }> {
    const primary = await submit(stack.api, { image, model, options, filename: 'input.png' }, {}, '/v1/infer');
    expect(primary.status).toBe(200);
    const status = (await (await fetch(`${stack.api.url}/v1/jobs/${primary.headers.get('x-fathom-job-id')}`)).json()) as JobStatus;
    return { status, primary };
  }
  const download = async (status: JobStatus, name: string) =>
    fetch(`${stack.api.url}${status.result!.artifacts.find((a) => a.name === name)!.url}`);

  /** Left half dark, right half bright, 120×80. */
  async function halves(): Promise<Buffer> {
    const pixels = Buffer.alloc(120 * 80 * 3);
    for (let i = 0; i < 120 * 80; i++) pixels.fill(i % 120 < 60 ? 20 : 235, i * 3, i * 3 + 3);
    return sharp(pixels, { raw: { width: 120, height: 80, channels: 3 } })
      .png()
      .toBuffer();
  }

  it('segmentation: a class-index mask, an overlay, shares and a cut-out, at the input’s size', async () => {
    const { status, primary } = await run('bright-regions', await halves(), { output: 'shares' });
    expect(primary.headers.get('content-type')).toBe('application/json');
    const shares = (await primary.json()) as { classes: Array<{ label: string; share: number }> };
    expect(shares.classes.map((c) => [c.label, c.share])).toEqual([
      ['background', expect.closeTo(0.5, 1)],
      ['bright', expect.closeTo(0.5, 1)],
    ]);
    expect(status.result!.artifacts.map((a) => a.name).sort()).toEqual(['cutout', 'mask', 'overlay', 'shares']);
    const mask = await sharp(Buffer.from(await (await download(status, 'mask')).arrayBuffer()))
      .extractChannel(0)
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([mask.info.width, mask.info.height]).toEqual([120, 80]);
    expect([mask.data[40 * 120 + 10], mask.data[40 * 120 + 110]]).toEqual([0, 1]);
    const overlay = await download(status, 'overlay');
    expect(overlay.headers.get('content-type')).toBe('image/png');
  });

  it('binary foreground segmentation: an alpha cut-out', async () => {
    const { status, primary } = await run('foreground', await halves(), { output: 'cutout' });
    const cutout = await sharp(Buffer.from(await primary.arrayBuffer()))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([cutout.info.width, cutout.info.height, cutout.info.channels]).toEqual([120, 80, 4]);
    // sigmoid(mean of normalised channels): dark → low alpha, bright → high alpha.
    expect(cutout.data[(40 * 120 + 10) * 4 + 3]).toBeLessThan(60);
    expect(cutout.data[(40 * 120 + 110) * 4 + 3]).toBeGreaterThan(200);
    expect(status.result!.summary).toMatchObject({ task: 'segmentation' });
  });

  it('classification: top-k labels with probabilities', async () => {
    const red = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#e01010' } })
      .png()
      .toBuffer();
    const { status, primary } = await run('dominant-colour', red, { topK: 2 });
    const body = (await primary.json()) as { top: Array<{ label: string; probability: number }> };
    expect(body.top).toHaveLength(2);
    expect(body.top[0]!.label).toBe('red');
    expect(status.result!.summary).toMatchObject({ task: 'classification', top: [{ label: 'red' }, expect.anything()] });
  });

  it('the real PP-OCR orientation classifier tells an upright text line from an upside-down one', async () => {
    // A text-line crop, as a detector would hand it to the classifier.
    const { png: page, textBoxes } = await renderTextImage({ width: 640, height: 160, lines: ['Hello orientation 123'] });
    const line = textBoxes[0]!;
    const png = await sharp(page)
      .extract({ left: line.x - 4, top: line.y - 4, width: line.width + 8, height: line.height + 8 })
      .png()
      .toBuffer();
    const upsideDown = await sharp(png).rotate(180).png().toBuffer();
    const upright = (await (await run('ppocr-mobile-v2-cls', png)).primary.json()) as {
      top: Array<{ label: string; probability: number }>;
    };
    const flipped = (await (await run('ppocr-mobile-v2-cls', upsideDown)).primary.json()) as {
      top: Array<{ label: string; probability: number }>;
    };
    console.log(`orientation: upright → ${JSON.stringify(upright.top[0])}, upside down → ${JSON.stringify(flipped.top[0])}`);
    expect(upright.top[0]!.label).toBe('0');
    expect(flipped.top[0]!.label).toBe('180');
  });

  (withDeeplab ? it : it.skip)('the real DeepLabV3 (NHWC input and output) labels most of the cat photo "cat"', async () => {
    const { status } = await run('deeplabv3-mnv2-voc', readFileSync(sharedPath('fixtures/images/cc0_chelsea_cat.png')));
    const summary = status.result!.summary as { classes: Array<{ label: string; share: number }> };
    console.log(`DeepLabV3 on the cat: ${JSON.stringify(summary.classes.slice(0, 3))}`);
    expect(summary.classes[0]!.label).toBe('cat');
    expect(summary.classes[0]!.share).toBeGreaterThan(0.6);
    const mask = await sharp(Buffer.from(await (await download(status, 'mask')).arrayBuffer())).metadata();
    expect([mask.width, mask.height]).toEqual([451, 300]);
  });
});
