import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { repoRoot } from '@fathom/testing';

const mean = (values: number[]): number => values.reduce((sum, v) => sum + v, 0) / values.length;

/**
 * `npm run demo:scale -- --fast` as a user runs it (after the build): the whole stack, a steady load
 * above one worker's capacity, a second worker joining at 3 s. What the user sees: the per-second
 * lines, throughput higher once the second worker serves, and the chart.
 */
describe('npm run demo:scale', () => {
  it('prints throughput rising once a worker joins, and draws the chart as a PNG', async () => {
    const chart = join(mkdtempSync(join(tmpdir(), 'fathom-demo-scale-')), 'demo-scale.png');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(repoRoot(), 'dist/tools/demo-scale/demo-scale.js'), '--fast', '--out', chart],
      { timeout: 100_000 },
    );
    try {
      expect(stdout).toMatch(/stands in for GPU workers/);
      expect(stdout).toMatch(/\+ t=\d+\.\d s: worker 2 is taking jobs/);
      const seconds = [...stdout.matchAll(/^t=\s*(\d+) s\s+workers\s+(\d+)\s+completed\s+(\d+) jobs\/s\s+queue\s+(\d+) waiting$/gm)].map(
        (m) => ({
          second: Number(m[1]),
          workers: Number(m[2]),
          completed: Number(m[3]),
          waiting: Number(m[4]),
        }),
      );
      expect(seconds.length).toBeGreaterThanOrEqual(8);
      expect(seconds.map((s) => s.second)).toEqual(seconds.map((_, i) => i + 1));
      // The first second of the run and the first with two workers are ramps: left out on both sides.
      const oneWorker = seconds.filter((s, i) => s.workers === 1 && i > 0).map((s) => s.completed);
      const twoWorkers = seconds.filter((s, i) => s.workers === 2 && seconds[i - 1]?.workers === 2).map((s) => s.completed);
      expect(oneWorker.length).toBeGreaterThan(0);
      expect(twoWorkers.length).toBeGreaterThan(0);
      expect(mean(twoWorkers)).toBeGreaterThan(mean(oneWorker) * 1.3);
      // 30 jobs/s offered to one worker: the queue grows while it is alone.
      expect(seconds.filter((s) => s.workers === 1).at(-1)!.waiting).toBeGreaterThan(seconds[0]!.waiting);

      expect(await sharp(chart).metadata()).toMatchObject({ format: 'png', width: 960, height: 540 });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- demo:scale printed:\n${stdout}`, { cause: error });
    }
  }, 120_000);
});
