import type { Polygon } from '../types';

/** A prediction and a ground-truth region match at this IoU or above (ICDAR's rule). */
export const MATCH_IOU = 0.5;

export interface PolygonMatch {
  /** Per prediction: matched to a scored region, to a "don't care" one, or to nothing. */
  prediction: Array<'matched' | 'ignored' | 'unmatched'>;
  matched: number;
  falsePositives: number;
  /** "Don't care" regions (they count neither way). */
  ignoredTruths: number;
}

/**
 * Which predictions the report draws as matched: one-to-one, best IoU first, each pair at
 * MATCH_IOU or above. IoU is counted on the pixel grid of the image (pixel centres inside each
 * polygon), which is exact enough to colour outlines; the metrics compute their own.
 */
export function matchPolygons(
  predictions: readonly Polygon[],
  truths: readonly Polygon[],
  ignore: readonly boolean[],
  width: number,
  height: number,
): PolygonMatch {
  const predicted = predictions.map((polygon) => rasterize(polygon, width, height));
  const truth = truths.map((polygon) => rasterize(polygon, width, height));
  const pairs: Array<{ p: number; t: number; iou: number }> = [];
  predicted.forEach((a, p) =>
    truth.forEach((b, t) => {
      const iou = intersectionOverUnion(a, b);
      if (iou >= MATCH_IOU) pairs.push({ p, t, iou });
    }),
  );
  pairs.sort((x, y) => y.iou - x.iou);
  const result: PolygonMatch['prediction'] = predictions.map(() => 'unmatched');
  const taken = new Set<number>();
  for (const { p, t } of pairs) {
    if (result[p] !== 'unmatched' || taken.has(t)) continue;
    taken.add(t);
    result[p] = ignore[t] ? 'ignored' : 'matched';
  }
  return {
    prediction: result,
    matched: result.filter((r) => r === 'matched').length,
    falsePositives: result.filter((r) => r === 'unmatched').length,
    ignoredTruths: ignore.filter(Boolean).length,
  };
}

interface Raster {
  x0: number;
  y0: number;
  w: number;
  h: number;
  inside: Uint8Array;
  area: number;
}

/** Pixel centres inside the polygon (even-odd rule), within its bounding box clipped to the image. */
function rasterize(polygon: Polygon, width: number, height: number): Raster {
  const xs = polygon.map(([x]) => x);
  const ys = polygon.map(([, y]) => y);
  const x0 = Math.max(0, Math.floor(Math.min(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const x1 = Math.min(width, Math.ceil(Math.max(...xs)));
  const y1 = Math.min(height, Math.ceil(Math.max(...ys)));
  const w = Math.max(0, x1 - x0);
  const h = Math.max(0, y1 - y0);
  const inside = new Uint8Array(w * h);
  let area = 0;
  for (let y = 0; y < h; y++) {
    const cy = y0 + y + 0.5;
    for (let x = 0; x < w; x++) {
      const cx = x0 + x + 0.5;
      let isInside = false;
      for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
        const [xi, yi] = polygon[i]!;
        const [xj, yj] = polygon[j]!;
        if (yi > cy !== yj > cy && cx < ((xj - xi) * (cy - yi)) / (yj - yi) + xi) isInside = !isInside;
      }
      if (isInside) {
        inside[y * w + x] = 1;
        area++;
      }
    }
  }
  return { x0, y0, w, h, inside, area };
}

function intersectionOverUnion(a: Raster, b: Raster): number {
  const left = Math.max(a.x0, b.x0);
  const top = Math.max(a.y0, b.y0);
  const right = Math.min(a.x0 + a.w, b.x0 + b.w);
  const bottom = Math.min(a.y0 + a.h, b.y0 + b.h);
  let both = 0;
  for (let y = top; y < bottom; y++) {
    for (let x = left; x < right; x++) both += a.inside[(y - a.y0) * a.w + (x - a.x0)]! & b.inside[(y - b.y0) * b.w + (x - b.x0)]!;
  }
  const union = a.area + b.area - both;
  return union > 0 ? both / union : 0;
}
