import { MAX_DRIFT_BINS } from '@fathom/contracts';

/**
 * Bins fixed by the reference: quantile edges for numbers, the common values for categories.
 */

/**
 * A bin must hold at least this share of the reference's values (ties permitting): PSI's log
 * ratio on a bin of a handful of values is mostly noise, and its χ² approximation wants no tiny
 * expected counts.
 */
export const MIN_BIN_SHARE = 0.05;

/** The bin label of values a categorical profile does not list. */
export const OTHER_LABEL = '(other)';
/** The bin label of null values (text detection's meanScore when no box was found). */
export const NONE_LABEL = '(none)';

/** The next float above x (x finite). */
export function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigInt64(0);
  view.setBigInt64(0, x > 0 ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}

/**
 * Inner edges for `values` (finite numbers): at most `maxBins` bins of about equal reference
 * share. Each edge goes at the tie boundary nearest its quantile, halfway between the two distinct
 * values either side of it, so tied values (a discrete feature, a feature mostly 0) always share a
 * bin, and boundaries that would leave a bin under MIN_BIN_SHARE are dropped. When that leaves one
 * bin (a constant feature, or one value holding nearly everything) the edges single out the most
 * common value c: x < c, x = c, x > c, so any move away from it still shows.
 */
export function quantileEdges(values: readonly number[], maxBins: number = MAX_DRIFT_BINS): number[] {
  const sorted = Float64Array.from(values).sort();
  const m = sorted.length;
  if (m === 0) return [];
  // Positions p (1..m−1) where a new distinct value starts: the only places an edge may go.
  const boundaries: number[] = [];
  for (let p = 1; p < m; p++) if (sorted[p - 1]! < sorted[p]!) boundaries.push(p);
  const minCount = Math.max(1, Math.ceil(MIN_BIN_SHARE * m));
  const chosen = new Set<number>();
  for (let k = 1; k < maxBins && boundaries.length > 0; k++) {
    chosen.add(nearest(boundaries, (k * m) / maxBins));
  }
  const edges: number[] = [];
  let last = 0;
  for (const p of [...chosen].sort((a, b) => a - b)) {
    if (p - last < minCount || m - p < minCount) continue;
    const below = sorted[p - 1]!;
    const above = sorted[p]!;
    const middle = below + (above - below) / 2;
    // below < edge ≤ above, even where the two are adjacent floats and their middle rounds to below.
    edges.push(middle > below ? middle : above);
    last = p;
  }
  if (edges.length > 0) return edges;
  const c = mode(sorted);
  return [c, nextUp(c)];
}

/** The element of ascending `sorted` nearest `target` (the lower one on a tie). */
function nearest(sorted: readonly number[], target: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  const above = sorted[lo]!;
  const below = lo > 0 ? sorted[lo - 1]! : above;
  return target - below <= above - target ? below : above;
}

/** The most common value of ascending `sorted` (the smallest on a tie). */
function mode(sorted: Float64Array): number {
  let best = sorted[0]!;
  let bestRun = 0;
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j < sorted.length && sorted[j] === sorted[i]) j++;
    if (j - i > bestRun) {
      best = sorted[i]!;
      bestRun = j - i;
    }
    i = j;
  }
  return best;
}

/** The bin of x: the number of edges at or below it (bin i is edges[i−1] ≤ x < edges[i]). */
export function numericBin(edges: readonly number[], x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (edges[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether `edges` are the single-value split quantileEdges falls back to: c and the float above it. */
function isSingleValueSplit(edges: readonly number[]): boolean {
  return edges.length === 2 && edges[1] === nextUp(edges[0]!);
}

/**
 * Labels for a numeric profile's bins: "< 12.5", "12.5–40", "≥ 40" (each edge with the fewest
 * significant digits, from 4, that keep the labels apart), "< 3", "3", "> 3" for a single-value
 * split, "any" for a single bin, then NONE_LABEL when nullable.
 */
export function numericBinLabels(edges: readonly number[], nullable: boolean): string[] {
  const labels: string[] = [];
  if (edges.length === 0) labels.push('any');
  else if (isSingleValueSplit(edges)) {
    const c = formatNumber(edges[0]!, 17);
    labels.push(`< ${c}`, c, `> ${c}`);
  } else {
    const texts = formatEdges(edges);
    labels.push(`< ${texts[0]!}`);
    for (let i = 1; i < texts.length; i++) labels.push(`${texts[i - 1]!}–${texts[i]!}`);
    labels.push(`≥ ${texts[texts.length - 1]!}`);
  }
  if (nullable) labels.push(NONE_LABEL);
  return labels;
}

function formatEdges(edges: readonly number[]): string[] {
  for (let digits = 4; digits < 17; digits++) {
    const texts = edges.map((edge) => formatNumber(edge, digits));
    if (new Set(texts).size === texts.length) return texts;
  }
  return edges.map((edge) => formatNumber(edge, 17));
}

/** x to `digits` significant digits without trailing zeros: 12.5, 0.0031, 1230000. */
function formatNumber(x: number, digits: number): string {
  return String(Number(x.toPrecision(digits)));
}

/**
 * The categories a categorical profile lists: the values holding at least MIN_BIN_SHARE of the
 * reference, most common first (ties by name), at most `maxBins − 1` of them; the last bin
 * ("other") takes the rest, values production brings that the reference never had included.
 */
export function commonCategories(values: readonly string[], maxBins: number = MAX_DRIFT_BINS): string[] {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  const minCount = Math.max(1, Math.ceil(MIN_BIN_SHARE * values.length));
  return [...counts]
    .filter(([, count]) => count >= minCount)
    .sort(([a, ca], [b, cb]) => cb - ca || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, maxBins - 1)
    .map(([value]) => value);
}

/** Counts as shares of their total; all zero when there are none. */
export function sharesOf(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((count) => (total > 0 ? count / total : 0));
}
