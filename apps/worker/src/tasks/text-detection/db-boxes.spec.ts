import { detectTextBoxes } from './db-boxes';

const OPTIONS = { threshold: 0.3, boxThreshold: 0.6, minSize: 3, unclipRatio: 1.5 };

/** A width×height map of zeros with rectangles of the given probability. */
function map(width: number, height: number, rects: Array<[x: number, y: number, w: number, h: number, p: number]>): Float32Array {
  const prob = new Float32Array(width * height);
  for (const [x0, y0, w, h, p] of rects) for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) prob[y * width + x] = p;
  return prob;
}

describe('DB text boxes', () => {
  it('finds two rectangles as two boxes, in reading order, grown by the unclip offset', () => {
    const boxes = detectTextBoxes(
      map(100, 60, [
        [50, 40, 30, 8, 0.9],
        [10, 10, 40, 10, 0.8],
      ]),
      100,
      60,
      OPTIONS,
    );
    expect(boxes).toHaveLength(2);
    // 40×10, ratio 1.5: grow = 400·1.5 / (2·50) = 6
    expect(boxes[0]).toEqual({
      points: [
        [4, 4],
        [56, 4],
        [56, 26],
        [4, 26],
      ],
      score: expect.closeTo(0.8, 5),
    });
    // 30×8: grow = 240·1.5 / 76 ≈ 4.74
    expect(boxes[1]!.points[0]![0]).toBeCloseTo(50 - (240 * 1.5) / 76, 5);
    expect(boxes[1]!.score).toBeCloseTo(0.9, 5);
  });

  it('drops regions below the box threshold and specks below the minimum size', () => {
    expect(detectTextBoxes(map(50, 50, [[5, 5, 20, 10, 0.5]]), 50, 50, OPTIONS)).toEqual([]);
    expect(detectTextBoxes(map(50, 50, [[5, 5, 2, 2, 0.99]]), 50, 50, OPTIONS)).toEqual([]);
  });

  it('clips grown boxes to the map', () => {
    const [box] = detectTextBoxes(map(40, 20, [[0, 0, 40, 20, 0.9]]), 40, 20, OPTIONS);
    expect(box!.points).toEqual([
      [0, 0],
      [40, 0],
      [40, 20],
      [0, 20],
    ]);
  });

  it('keeps touching regions apart only when they do not touch', () => {
    expect(
      detectTextBoxes(
        map(60, 20, [
          [0, 5, 20, 8, 0.9],
          [20, 5, 20, 8, 0.9],
        ]),
        60,
        20,
        OPTIONS,
      ),
    ).toHaveLength(1);
    expect(
      detectTextBoxes(
        map(60, 20, [
          [0, 5, 20, 8, 0.9],
          [21, 5, 20, 8, 0.9],
        ]),
        60,
        20,
        OPTIONS,
      ),
    ).toHaveLength(2);
  });
});
