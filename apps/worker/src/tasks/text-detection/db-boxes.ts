export interface TextBox {
  /** Corners clockwise from top-left, in pixels of the map they were found on. */
  points: Array<[number, number]>;
  /** Mean text probability over the region. */
  score: number;
}

export interface DbOptions {
  /** Probability above which a pixel is text. */
  threshold: number;
  /** Mean probability a region needs to be kept. */
  boxThreshold: number;
  /** Regions with a side shorter than this (pixels) are noise. */
  minSize: number;
  /** How far the shrunk text kernel is grown back (DB's unclip ratio). */
  unclipRatio: number;
}

/**
 * DB (differentiable binarisation) post-processing: threshold the probability map, find its
 * connected regions, score each by its mean probability, and grow each region's box by DB's unclip
 * offset (area × ratio / perimeter), since the network predicts shrunk text kernels. Boxes are
 * axis-aligned rectangles; PaddleOCR's rotated minimum-area boxes would fit slanted text tighter.
 */
export function detectTextBoxes(prob: Float32Array, width: number, height: number, options: DbOptions): TextBox[] {
  const labels = new Int32Array(width * height);
  const stack: number[] = [];
  const boxes: TextBox[] = [];
  let next = 1;
  for (let start = 0; start < prob.length; start++) {
    if (labels[start] !== 0 || !(prob[start]! > options.threshold)) continue;
    const label = next++;
    let minX = width;
    let minY = height;
    let maxX = -1;
    let maxY = -1;
    let sum = 0;
    let count = 0;
    labels[start] = label;
    stack.push(start);
    while (stack.length > 0) {
      const i = stack.pop()!;
      const x = i % width;
      const y = (i - x) / width;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      sum += prob[i]!;
      count++;
      if (x > 0) visit(i - 1);
      if (x < width - 1) visit(i + 1);
      if (y > 0) visit(i - width);
      if (y < height - 1) visit(i + width);
    }
    const w = maxX - minX + 1;
    const h = maxY - minY + 1;
    const score = sum / count;
    if (Math.min(w, h) < options.minSize || score < options.boxThreshold) continue;
    const grow = (w * h * options.unclipRatio) / (2 * (w + h));
    const x0 = Math.max(0, minX - grow);
    const y0 = Math.max(0, minY - grow);
    const x1 = Math.min(width, maxX + 1 + grow);
    const y1 = Math.min(height, maxY + 1 + grow);
    boxes.push({
      points: [
        [x0, y0],
        [x1, y0],
        [x1, y1],
        [x0, y1],
      ],
      score,
    });

    function visit(j: number): void {
      if (labels[j] === 0 && prob[j]! > options.threshold) {
        labels[j] = label;
        stack.push(j);
      }
    }
  }
  // Reading order: top to bottom, then left to right.
  return boxes.sort((a, b) => a.points[0]![1] - b.points[0]![1] || a.points[0]![0] - b.points[0]![0]);
}
