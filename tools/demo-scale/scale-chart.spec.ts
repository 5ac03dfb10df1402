import { CHART_HEIGHT, CHART_WIDTH, niceCeiling, scaleChartSvg } from './scale-chart';

describe('the scale demo chart', () => {
  it('tops an axis at 1, 2 or 5 × 10ⁿ, never below 10', () => {
    expect([0, 7, 10, 11, 23, 48, 51, 180, 312].map(niceCeiling)).toEqual([10, 10, 10, 20, 50, 50, 100, 200, 500]);
  });

  it('draws both series to scale, the offered load and a marker per worker that joined', () => {
    const svg = scaleChartSvg({
      samples: [
        { second: 1, completedPerSecond: 18, waiting: 12, workers: 1 },
        { second: 2, completedPerSecond: 36, waiting: 40, workers: 2 },
      ],
      workerJoins: [{ second: 1.5, workers: 2 }],
      offeredPerSecond: 30,
      durationSeconds: 2,
      title: 'scaling <fast>',
    });
    expect(svg).toContain(`width="${CHART_WIDTH}" height="${CHART_HEIGHT}"`);
    const polylines = [...svg.matchAll(/<polyline points="([^"]+)"/g)].map((m) => m[1]!.split(' ').map((p) => p.split(',').map(Number)));
    // Queue first, then throughput; each from (0, 0) at the plot's bottom-left corner, one point a second.
    expect(polylines.map((line) => line.length)).toEqual([3, 3]);
    const [queue, rate] = polylines as [number[][], number[][]];
    expect(queue[0]).toEqual(rate[0]);
    // 40 waiting on a 0–50 axis and 36 jobs/s on a 0–50 axis (36 × 1.1 and 30 → 50): 80 % and 72 % up the plot.
    const [bottom, plotHeight] = [queue[0]![1]!, queue[0]![1]! - 70];
    expect(queue[2]![1]).toBeCloseTo(bottom - 0.8 * plotHeight, 0);
    expect(rate[2]![1]).toBeCloseTo(bottom - 0.72 * plotHeight, 0);
    expect(rate[2]![0]).toBeCloseTo(CHART_WIDTH - 90, 0);
    expect(svg).toMatch(/>2 workers</);
    expect(svg).toMatch(/offered load 30 jobs\/s/);
    expect(svg).toContain('scaling &lt;fast&gt;');
  });
});
