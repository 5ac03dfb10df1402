import type { SecondSample } from './scaling-sim';

const WIDTH = 960;
const HEIGHT = 540;
const PLOT = { left: 80, right: WIDTH - 90, top: 88, bottom: HEIGHT - 80 };
const REPLICA_COLOUR = '#1f6fb4';
const QUEUE_COLOUR = '#e07b00';
const FONT = 'font-family="DejaVu Sans, sans-serif"';

/** The top of an axis: 1, 2 or 5 × a power of ten, at least `value`. */
const niceCeiling = (value: number): number => {
  const target = Math.max(5, value);
  const power = 10 ** Math.floor(Math.log10(target));
  return [1, 2, 5, 10].map((m) => m * power).find((top) => top >= target)!;
};

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The simulation as SVG: pods paid for and pods ready (left axis), the offered load in pods' worth
 * (dashed), and jobs waiting (right axis), over the load curve.
 */
export function scalingChartSvg(input: {
  timeline: SecondSample[];
  perReplicaJobsPerSecond: number;
  title: string;
  subtitle: string[];
}): string {
  const { timeline } = input;
  const duration = timeline.at(-1)?.second ?? 1;
  const replicaTop = niceCeiling(
    Math.max(...timeline.map((s) => Math.max(s.replicas, s.offeredPerSecond / input.perReplicaJobsPerSecond))) * 1.1,
  );
  const queueTop = niceCeiling(Math.max(...timeline.map((s) => s.waiting)) * 1.1);
  const x = (second: number) => PLOT.left + (second / duration) * (PLOT.right - PLOT.left);
  const y = (value: number, top: number) => PLOT.bottom - (value / top) * (PLOT.bottom - PLOT.top);
  // Steps, not slopes: a replica count holds until it changes.
  const steps = (value: (s: SecondSample) => number, top: number) =>
    timeline
      .map(
        (s, i) =>
          `${i === 0 ? 'M' : 'L'}${x(s.second - 1).toFixed(1)},${y(value(s), top).toFixed(1)} L${x(s.second).toFixed(1)},${y(value(s), top).toFixed(1)}`,
      )
      .join(' ');
  const ticks = (top: number) => [0, 0.2, 0.4, 0.6, 0.8, 1].map((f) => f * top);
  const minuteStep = duration > 1200 ? 300 : 60;
  const timeTicks = Array.from({ length: Math.floor(duration / minuteStep) + 1 }, (_, i) => i * minuteStep);
  const midY = (PLOT.top + PLOT.bottom) / 2;
  const legend = [
    { colour: REPLICA_COLOUR, dash: '', text: 'pods paid for (starting + ready)' },
    { colour: REPLICA_COLOUR, dash: '2 3', text: 'pods ready' },
    { colour: '#555', dash: '8 5', text: 'offered load ÷ one pod’s throughput' },
    { colour: QUEUE_COLOUR, dash: '', text: 'jobs waiting' },
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="28" ${FONT} font-size="18" text-anchor="middle" fill="#222">${escape(input.title)}</text>`,
    ...input.subtitle.map(
      (line, i) =>
        `<text x="${WIDTH / 2}" y="${50 + i * 18}" ${FONT} font-size="13" text-anchor="middle" fill="#555">${escape(line)}</text>`,
    ),
    ...ticks(replicaTop).map(
      (v) => `<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${y(v, replicaTop)}" y2="${y(v, replicaTop)}" stroke="#e4e4e4"/>`,
    ),
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#888"/>`,
    ...ticks(replicaTop).map(
      (v) =>
        `<text x="${PLOT.left - 8}" y="${y(v, replicaTop) + 5}" ${FONT} font-size="13" text-anchor="end" fill="${REPLICA_COLOUR}">${Math.round(v)}</text>`,
    ),
    ...ticks(queueTop).map(
      (v) => `<text x="${PLOT.right + 8}" y="${y(v, queueTop) + 5}" ${FONT} font-size="13" fill="${QUEUE_COLOUR}">${Math.round(v)}</text>`,
    ),
    ...timeTicks.map(
      (s) => `<text x="${x(s)}" y="${PLOT.bottom + 20}" ${FONT} font-size="13" text-anchor="middle" fill="#444">${s / 60}</text>`,
    ),
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 42}" ${FONT} font-size="14" text-anchor="middle" fill="#444">minutes</text>`,
    `<text transform="translate(24 ${midY}) rotate(-90)" ${FONT} font-size="14" text-anchor="middle" fill="${REPLICA_COLOUR}">worker pods</text>`,
    `<text transform="translate(${WIDTH - 18} ${midY}) rotate(90)" ${FONT} font-size="14" text-anchor="middle" fill="${QUEUE_COLOUR}">jobs waiting in the queue</text>`,
    `<path d="${steps((s) => s.offeredPerSecond / input.perReplicaJobsPerSecond, replicaTop)}" fill="none" stroke="#555" stroke-width="1.5" stroke-dasharray="8 5"/>`,
    `<path d="${steps((s) => s.waiting, queueTop)}" fill="none" stroke="${QUEUE_COLOUR}" stroke-width="2"/>`,
    `<path d="${steps((s) => s.ready, replicaTop)}" fill="none" stroke="${REPLICA_COLOUR}" stroke-width="2" stroke-dasharray="2 3"/>`,
    `<path d="${steps((s) => s.replicas, replicaTop)}" fill="none" stroke="${REPLICA_COLOUR}" stroke-width="2.5"/>`,
    ...legend.flatMap((item, i) => {
      // Each entry after the last one's text (about 6.5 px a character at 12 px).
      const left = PLOT.left + legend.slice(0, i).reduce((sum, prev) => sum + 50 + prev.text.length * 6.5, 0);
      return [
        `<line x1="${left}" x2="${left + 28}" y1="${HEIGHT - 14}" y2="${HEIGHT - 14}" stroke="${item.colour}" stroke-width="2.5"${item.dash ? ` stroke-dasharray="${item.dash}"` : ''}/>`,
        `<text x="${left + 34}" y="${HEIGHT - 9}" ${FONT} font-size="12" fill="#333">${escape(item.text)}</text>`,
      ];
    }),
    '</svg>',
  ].join('\n');
}
