import sharp from 'sharp';
import { colormapLut } from '@fathom/imaging';
import type { DepthTruth, SegmentationTruth } from '../types';
import {
  IGNORED_PIXEL,
  PANEL_MAX_SIDE,
  renderPanels,
  TEXT_COLOURS,
  WRONG_PIXEL,
  type ImagePanel,
  type Panel,
  type TextPanel,
} from './sample-panels';

/** A panel's picture as RGB pixels. */
async function pixelsOf(panel: Panel | undefined): Promise<{ width: number; height: number; rgb: number[][] }> {
  const image = panel as ImagePanel;
  const { data, info } = await sharp(image.data).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const rgb: number[][] = [];
  for (let o = 0; o < data.length; o += info.channels) rgb.push([data[o]!, data[o + 1]!, data[o + 2]!]);
  return { width: info.width, height: info.height, rgb };
}
const count = (rgb: number[][], colour: readonly number[]) =>
  rgb.filter((p) => p[0] === colour[0] && p[1] === colour[1] && p[2] === colour[2]).length;
const turbo = (index: number) => [...colormapLut('turbo').subarray(index * 3, index * 3 + 3)];
const photo = (width: number, height: number, background = '#6080a0') =>
  sharp({ create: { width, height, channels: 3, background } })
    .png()
    .toBuffer();

describe('sample panels', () => {
  describe('depth', () => {
    // 6×4 metres from 1 to 6.75, the last pixel without ground truth.
    const width = 6;
    const height = 4;
    const depth = Float32Array.from({ length: width * height }, (_, i) => 1 + i / 4);
    depth[23] = 0;
    const truth: DepthTruth = { width, height, depth };

    it('draws a perfect prediction’s error map all in the scale’s 0 colour, and black where there is no ground truth', async () => {
      // A relative inverse-depth output: disparity, scaled and shifted; alignment makes it perfect.
      const values = Float32Array.from(depth, (d) => (d > 0 ? 2 / d + 0.1 : 0));
      const panels = await renderPanels('depth', {
        image: await photo(width, height),
        prediction: { width, height, values },
        truth,
        options: {},
      });
      const error = await pixelsOf(panels.error);
      expect([error.width, error.height]).toEqual([width, height]);
      expect(count(error.rgb, turbo(0))).toBe(23);
      expect(error.rgb[23]).toEqual([0, 0, 0]);
      expect((panels.error as ImagePanel).legend).toMatchObject({ kind: 'scale', from: '0', to: '≥ 0.5' });
      expect(panels.error!.caption).toBe('|p − g| / g per pixel, mean 0.000');
    });

    it('colours AbsRel 0.25 half way up the scale, and a ground truth near = the warm end, far = the cold end', async () => {
      // A metric model 25 % too deep everywhere.
      const values = Float32Array.from(depth, (d) => d * 1.25);
      const panels = await renderPanels('depth', {
        image: await photo(width, height),
        prediction: { width, height, values },
        truth,
        options: { depthOutput: 'metric' },
      });
      const error = await pixelsOf(panels.error);
      expect(count(error.rgb, turbo(128))).toBe(23);
      const truthPixels = await pixelsOf(panels.truth);
      expect([truthPixels.rgb[0], truthPixels.rgb[22], truthPixels.rgb[23]]).toEqual([turbo(255), turbo(0), [0, 0, 0]]);
      expect((panels.truth as ImagePanel).legend).toMatchObject({ kind: 'scale', from: '6.50 m', to: '1.00 m' });
      // No artifact given: the prediction is drawn from the raw map on the truth's scale.
      expect(panels.prediction.caption).toBe('prediction');
    });

    it('shows the job’s colourised depth map as the prediction, shrunk to at most PANEL_MAX_SIDE', async () => {
      const big = { width: 960, height: 640 };
      const bigTruth: DepthTruth = { ...big, depth: new Float32Array(big.width * big.height).fill(2) };
      const panels = await renderPanels('depth', {
        image: await photo(big.width, big.height),
        prediction: { ...big, values: new Float32Array(big.width * big.height).fill(1) },
        predictionImage: await photo(big.width, big.height, '#ff8800'),
        truth: bigTruth,
        options: {},
      });
      for (const panel of [panels.input, panels.prediction, panels.truth, panels.error] as ImagePanel[]) {
        expect([panel.width, panel.height]).toEqual([PANEL_MAX_SIDE, 213]);
        expect((await sharp(panel.data).metadata()).width).toBe(PANEL_MAX_SIDE);
      }
      expect((panels.input as ImagePanel).mime).toBe('image/jpeg');
      expect((await pixelsOf(panels.prediction)).rgb[0]).toEqual([255, 136, 0]);
    });
  });

  describe('segmentation', () => {
    // 8×5: class 1 on the left half, class 2 on the right, the top row "don't care" (255).
    const width = 8;
    const height = 5;
    const classes = Uint8Array.from({ length: width * height }, (_, i) => (i < width ? 255 : i % width < 4 ? 1 : 2));
    const truth: SegmentationTruth = { width, height, classes, ignoreIndex: 255, numClasses: 3, labels: ['background', 'cat', 'dog'] };

    it('marks exactly the wrongly classified pixels red and the unscored ones grey', async () => {
      const predicted = Uint8Array.from(classes, (c) => (c === 255 ? 0 : c));
      // Seven scored pixels wrong, and two on the "don't care" row (which must not count).
      const changes: Array<[number, number]> = [
        [8, 0],
        [9, 2],
        [10, 0],
        [11, 0],
        [20, 1],
        [21, 0],
        [38, 1],
        [0, 1],
        [1, 2],
      ];
      for (const [i, c] of changes) predicted[i] = c;
      const panels = await renderPanels('segmentation', {
        image: await photo(width, height),
        prediction: { width, height, classes: predicted },
        truth,
        options: {},
      });
      const error = await pixelsOf(panels.error);
      expect(count(error.rgb, WRONG_PIXEL)).toBe(7);
      expect(count(error.rgb, IGNORED_PIXEL)).toBe(8);
      expect(panels.error!.caption).toBe('7 wrong pixels (21.9 %)');
      expect((panels.prediction as ImagePanel).legend).toEqual({
        kind: 'swatches',
        entries: [
          { colour: '#000000', label: 'background' },
          { colour: '#800000', label: 'cat' },
          { colour: '#008000', label: 'dog' },
        ],
      });
      // The truth is the VOC colour blended half and half with the photo (#6080a0): cat = #800000.
      expect((await pixelsOf(panels.truth)).rgb[8]).toEqual([112, 64, 80]);
    });
  });

  describe('classification', () => {
    it('lists the top predictions with their probabilities, the truth, and whether top-1 was right', async () => {
      const top = [
        { index: 2, label: 'dog', probability: 0.712 },
        { index: 1, label: 'cat', probability: 0.2 },
      ];
      const truth = { label: 'cat', labels: ['bird', 'cat', 'dog'] };
      const panels = await renderPanels('classification', { image: await photo(4, 4), prediction: { top }, truth, options: {} });
      expect((panels.prediction as TextPanel).lines).toEqual([{ text: '1. dog — 71.2 %' }, { text: '2. cat — 20.0 %', tone: 'good' }]);
      expect((panels.truth as TextPanel).lines).toEqual([{ text: 'cat' }]);
      expect((panels.error as TextPanel).lines).toEqual([{ text: '✗ top-1 wrong; the truth is #2', tone: 'bad' }]);
      const right = await renderPanels('classification', { image: await photo(4, 4), prediction: { top: [top[1]!] }, truth, options: {} });
      expect((right.error as TextPanel).lines).toEqual([{ text: '✓ top-1 right', tone: 'good' }]);
    });
  });

  describe('text detection', () => {
    it('counts matched, false and missed regions and outlines them in their colours', async () => {
      const truth = {
        polygons: [
          [
            [10, 10],
            [50, 10],
            [50, 30],
            [10, 30],
          ],
          [
            [10, 50],
            [50, 50],
            [50, 70],
            [10, 70],
          ],
        ] as const,
      };
      const prediction = {
        polygons: [
          [
            [12, 11],
            [52, 11],
            [52, 31],
            [12, 31],
          ],
          [
            [60, 10],
            [90, 10],
            [90, 30],
            [60, 30],
          ],
        ] as const,
      };
      const panels = await renderPanels('text-detection', { image: await photo(100, 80, '#ffffff'), prediction, truth, options: {} });
      expect(panels.error!.caption).toBe('1 matched, 1 false, 1 missed');
      const colours = (await pixelsOf(panels.prediction)).rgb.map((p) => `#${p.map((c) => c.toString(16).padStart(2, '0')).join('')}`);
      expect(colours).toContain(TEXT_COLOURS.matched);
      expect(colours).toContain(TEXT_COLOURS.unmatched);
      expect(colours).not.toContain(TEXT_COLOURS.truth);
    });
  });

  describe('image to image', () => {
    it('shows |prediction − target| four times over in grey', async () => {
      const target = { width: 3, height: 2, channels: 1 as const, pixels: Uint8Array.from([10, 20, 30, 40, 50, 60]) };
      const prediction = { ...target, pixels: Uint8Array.from([10, 30, 30, 40, 50, 0]) };
      const panels = await renderPanels('image-to-image', { image: await photo(3, 2), prediction, truth: target, options: {} });
      expect((await pixelsOf(panels.error)).rgb.map((p) => p[0])).toEqual([0, 40, 0, 0, 0, 240]);
      expect(panels.error!.caption).toBe('|prediction − target| × 4');
    });
  });
});
