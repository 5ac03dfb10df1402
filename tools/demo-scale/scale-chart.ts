/** One second of the demo: jobs that completed in it, and the queue read at its end. */
export interface SecondSample {
  /** End of the second, from the start of the load. */
  second: number;
  completedPerSecond: number;
  waiting: number;
  workers: number;
}

export interface ScaleChartInput {
  samples: SecondSample[];
  /** When each added worker began taking jobs (seconds from the start of the load). */
  workerJoins: Array<{ second: number; workers: number }>;
  offeredPerSecond: number;
  durationSeconds: number;
  title: string;
}

export const CHART_WIDTH = 960;
export const CHART_HEIGHT = 540;
const PLOT = { left: 80, right: CHART_WIDTH - 90, top: 70, bottom: CHART_HEIGHT - 70 };
const THROUGHPUT_COLOUR = '#1f6fb4';
const QUEUE_COLOUR = '#e07b00';
const FONT = 'font-family="DejaVu Sans, sans-serif"';

/** The top of an axis: 1, 2 or 5 × a power of ten, at least `value` (and at least 10). */
export function niceCeiling(value: number): number {
  const target = Math.max(10, value);
  const power = 10 ** Math.floor(Math.log10(target));
  return [1, 2, 5, 10].map((m) => m * power).find((top) => top >= target)!;
}

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The demo's chart as SVG: completed jobs/s (left axis) and jobs waiting (right axis) over time,
 * the offered load as a dashed line, and a vertical marker where each worker joined.
 */
export function scaleChartSvg(input: ScaleChartInput): string {
  const rateTop = niceCeiling(Math.max(input.offeredPerSecond, ...input.samples.map((s) => s.completedPerSecond)) * 1.1);
  const queueTop = niceCeiling(Math.max(...input.samples.map((s) => s.waiting)) * 1.1);
  const x = (second: number) => PLOT.left + (second / input.durationSeconds) * (PLOT.right - PLOT.left);
  const yRate = (rate: number) => PLOT.bottom - (rate / rateTop) * (PLOT.bottom - PLOT.top);
  const yQueue = (waiting: number) => PLOT.bottom - (waiting / queueTop) * (PLOT.bottom - PLOT.top);
  const points = (y: (v: number) => number, value: (s: SecondSample) => number) =>
    [{ second: 0, value: 0 }, ...input.samples.map((s) => ({ second: s.second, value: value(s) }))]
      .map((p) => `${x(p.second).toFixed(1)},${y(p.value).toFixed(1)}`)
      .join(' ');
  // Fifths of a 1, 2 or 5 × 10ⁿ top are round numbers.
  const ticks = (top: number) => [0, 0.2, 0.4, 0.6, 0.8, 1].map((f) => f * top);
  const secondsStep = input.durationSeconds > 20 ? 5 : 1;
  const secondTicks = Array.from({ length: Math.floor(input.durationSeconds / secondsStep) + 1 }, (_, i) => i * secondsStep);
  const midY = (PLOT.top + PLOT.bottom) / 2;

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${CHART_WIDTH / 2}" y="32" ${FONT} font-size="19" text-anchor="middle" fill="#222">${escape(input.title)}</text>`,
    // Grid and axes.
    ...ticks(rateTop).map((v) => `<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${yRate(v)}" y2="${yRate(v)}" stroke="#e4e4e4"/>`),
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#888"/>`,
    ...ticks(rateTop).map(
      (v) =>
        `<text x="${PLOT.left - 8}" y="${yRate(v) + 5}" ${FONT} font-size="14" text-anchor="end" fill="${THROUGHPUT_COLOUR}">${Math.round(v)}</text>`,
    ),
    ...ticks(queueTop).map(
      (v) => `<text x="${PLOT.right + 8}" y="${yQueue(v) + 5}" ${FONT} font-size="14" fill="${QUEUE_COLOUR}">${Math.round(v)}</text>`,
    ),
    ...secondTicks.map(
      (s) => `<text x="${x(s)}" y="${PLOT.bottom + 22}" ${FONT} font-size="14" text-anchor="middle" fill="#444">${s}</text>`,
    ),
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 50}" ${FONT} font-size="15" text-anchor="middle" fill="#444">seconds</text>`,
    `<text transform="translate(24 ${midY}) rotate(-90)" ${FONT} font-size="15" text-anchor="middle" fill="${THROUGHPUT_COLOUR}">completed jobs/s</text>`,
    `<text transform="translate(${CHART_WIDTH - 20} ${midY}) rotate(90)" ${FONT} font-size="15" text-anchor="middle" fill="${QUEUE_COLOUR}">jobs waiting in the queue</text>`,
    // Offered load, then where workers joined.
    `<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${yRate(input.offeredPerSecond)}" y2="${yRate(input.offeredPerSecond)}" stroke="${THROUGHPUT_COLOUR}" stroke-dasharray="3 5" opacity="0.7"/>`,
    `<text x="${PLOT.left + 8}" y="${yRate(input.offeredPerSecond) - 6}" ${FONT} font-size="13" fill="${THROUGHPUT_COLOUR}">offered load ${input.offeredPerSecond} jobs/s</text>`,
    `<text x="${PLOT.left + 6}" y="${PLOT.top + 18}" ${FONT} font-size="14" fill="#333">1 worker</text>`,
    ...input.workerJoins.flatMap((join) => [
      `<line x1="${x(join.second)}" x2="${x(join.second)}" y1="${PLOT.top}" y2="${PLOT.bottom}" stroke="#555" stroke-dasharray="6 4"/>`,
      `<text x="${x(join.second) + 6}" y="${PLOT.top + 18}" ${FONT} font-size="14" fill="#333">${join.workers} workers</text>`,
    ]),
    // The two series.
    `<polyline points="${points(yQueue, (s) => s.waiting)}" fill="none" stroke="${QUEUE_COLOUR}" stroke-width="3"/>`,
    `<polyline points="${points(yRate, (s) => s.completedPerSecond)}" fill="none" stroke="${THROUGHPUT_COLOUR}" stroke-width="3"/>`,
    // Legend.
    `<line x1="${PLOT.left}" x2="${PLOT.left + 30}" y1="50" y2="50" stroke="${THROUGHPUT_COLOUR}" stroke-width="3"/>`,
    `<text x="${PLOT.left + 38}" y="55" ${FONT} font-size="14" fill="#222">completed jobs/s (left)</text>`,
    `<line x1="${PLOT.left + 240}" x2="${PLOT.left + 270}" y1="50" y2="50" stroke="${QUEUE_COLOUR}" stroke-width="3"/>`,
    `<text x="${PLOT.left + 278}" y="55" ${FONT} font-size="14" fill="#222">jobs waiting (right)</text>`,
    `</svg>`,
  ].join('\n');
}
