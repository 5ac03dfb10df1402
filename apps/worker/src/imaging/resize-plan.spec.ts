import type { ResizeSpec } from '@fathom/models';
import { planModelInputSize } from './resize-plan';

const depth: ResizeSpec = { mode: 'keep-aspect', multiple: 14, target: 518, fit: 'lower-bound', maxSide: 2072 };
const ocr: ResizeSpec = { mode: 'keep-aspect', multiple: 32, target: 960, fit: 'upper-bound', maxSide: 960 };

describe('planModelInputSize', () => {
  it('follows Depth Anything’s lower-bound transform: shorter side 518, multiples of 14', () => {
    // 600×400: scale 518/400 = 1.295 → 777×518 → 777/14 = 55.5 rounds to 56 → 784.
    expect(planModelInputSize(600, 400, depth)).toEqual({ width: 784, height: 518 });
    expect(planModelInputSize(518, 518, depth)).toEqual({ width: 518, height: 518 });
    expect(planModelInputSize(700, 518, depth)).toEqual({ width: 700, height: 518 });
    // 1800×1200 → 777×518 as well: downscaling uses the same rule.
    expect(planModelInputSize(1800, 1200, depth)).toEqual({ width: 784, height: 518 });
  });

  it('never rounds a side below the lower bound', () => {
    // 1000×999: 518/999 → height 518.0, width 518.5 → 37.04×14 rounds to 518, which is fine;
    // 1000×1010 makes the shorter side 518 and the other 523.8 → 37.4 → rounds to 518 ≥ 518.
    for (const [w, h] of [
      [1000, 999],
      [1000, 1010],
      [517, 1000],
      [3, 2],
    ] as const) {
      const size = planModelInputSize(w, h, depth);
      expect(Math.min(size.width, size.height)).toBeGreaterThanOrEqual(518);
      expect(size.width % 14).toBe(0);
      expect(size.height % 14).toBe(0);
    }
  });

  it('caps a 4096×1 strip instead of asking for a 2-million-pixel-wide tensor', () => {
    expect(planModelInputSize(4096, 1, depth)).toEqual({ width: 2072, height: 14 });
    expect(planModelInputSize(1, 4096, depth)).toEqual({ width: 14, height: 2072 });
    expect(planModelInputSize(1, 1, depth)).toEqual({ width: 518, height: 518 });
  });

  it('follows PaddleOCR’s det resize: longer side at most 960, never upscaled, multiples of 32', () => {
    expect(planModelInputSize(600, 400, ocr)).toEqual({ width: 608, height: 416 });
    expect(planModelInputSize(1920, 1080, ocr)).toEqual({ width: 960, height: 544 });
    expect(planModelInputSize(10, 10, ocr)).toEqual({ width: 32, height: 32 });
  });

  it('uses a fixed size as is', () => {
    expect(planModelInputSize(123, 456, { mode: 'fixed', width: 257, height: 257 })).toEqual({ width: 257, height: 257 });
  });
});
