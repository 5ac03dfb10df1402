import type { MetricComparison } from '@fathom/contracts';
import { compareRuns, gateDecision, mulberry32 } from './comparison';
import type { DepthStats } from './depth.metrics';
import type { ImageToImageStats } from './image-to-image.metrics';

/** 40 images of a run scoring around 25 dB, deterministic but uneven. */
const random = mulberry32(7);
const stable: ImageToImageStats[] = Array.from({ length: 40 }, () => ({ psnr: 22 + 6 * random(), ssim: 0.7 + 0.2 * random() }));
/** The same images, each 2 to 4 dB better and its SSIM 0.02 to 0.04 higher. */
const improved = stable.map((s) => ({ psnr: s.psnr + 2 + 2 * random(), ssim: s.ssim + 0.02 + 0.02 * random() }));

describe('comparing two runs with a paired bootstrap', () => {
  it('find no difference, with an interval of exactly [0, 0], between a run and itself', () => {
    const comparison = compareRuns('image-to-image', stable, stable, { resamples: 500, seed: 3 });
    expect(comparison.map((m) => [m.metric, m.delta, m.ci95, m.verdict])).toEqual([
      ['psnr', 0, [0, 0], 'no-difference'],
      ['ssim', 0, [0, 0], 'no-difference'],
    ]);
  });

  it('call a clearly better candidate better and the baseline, against it, worse', () => {
    const [psnr, ssim] = compareRuns('image-to-image', stable, improved, { resamples: 1000, seed: 3 });
    expect(psnr).toMatchObject({ metric: 'psnr', better: 'higher', verdict: 'better' });
    expect(psnr!.delta).toBeGreaterThan(2);
    expect(psnr!.delta).toBeLessThan(4);
    expect(psnr!.ci95[0]).toBeGreaterThan(2);
    expect(psnr!.ci95[1]).toBeLessThan(4);
    expect(psnr!.ci95[0]).toBeLessThan(psnr!.delta);
    expect(psnr!.ci95[1]).toBeGreaterThan(psnr!.delta);
    expect(ssim).toMatchObject({ metric: 'ssim', verdict: 'better' });
    expect(compareRuns('image-to-image', improved, stable, { resamples: 1000, seed: 3 }).map((m) => m.verdict)).toEqual(['worse', 'worse']);
  });

  it('read a lower error as better for metrics where lower is better', () => {
    const depth = (absRel: number): DepthStats => ({
      pixels: 100,
      absRel,
      sqRel: absRel / 2,
      rmse: absRel * 3,
      rmseLog: absRel,
      log10: absRel / 3,
      silog: absRel,
      delta1: 1 - absRel,
      delta2: 1 - absRel / 2,
      delta3: 1 - absRel / 4,
    });
    const a = Array.from({ length: 30 }, () => depth(0.2 + 0.05 * random()));
    const b = a.map((s) => depth(s.absRel - 0.05 - 0.01 * random()));
    const comparison = compareRuns('depth', a, b, { resamples: 500 });
    expect(comparison.map((m) => m.verdict)).toEqual(Array(9).fill('better'));
    expect(comparison[0]).toMatchObject({ metric: 'absRel', better: 'lower' });
    expect(comparison[0]!.delta).toBeLessThan(0);
  });

  it('call a difference smaller than the noise no difference', () => {
    const jittered = stable.map((s, i) => ({ psnr: s.psnr + (i % 2 === 0 ? 1 : -1), ssim: s.ssim }));
    expect(compareRuns('image-to-image', stable, jittered, { resamples: 1000 })[0]).toMatchObject({ verdict: 'no-difference' });
  });

  it('give the same interval for the same seed', () => {
    const first = compareRuns('image-to-image', stable, improved, { resamples: 300, seed: 42 });
    expect(compareRuns('image-to-image', stable, improved, { resamples: 300, seed: 42 })).toEqual(first);
  });

  it('refuse runs that did not score the same samples', () => {
    expect(() => compareRuns('image-to-image', stable, improved.slice(1))).toThrow(/same samples scored in both runs: 40 and 39/);
  });
});

describe('the promotion gate', () => {
  const comparison = (better: 'higher' | 'lower', a: number, b: number): MetricComparison => ({
    metric: 'm',
    better,
    a,
    b,
    delta: b - a,
    ci95: [b - a, b - a],
    verdict: 'no-difference',
  });

  it('refuse a canary worse than stable by more than the margin, in the metric’s worse direction', () => {
    const lowerF1 = comparison('higher', 0.8, 0.75);
    expect(gateDecision(lowerF1, 0.01)).toEqual({ passed: false, worseBy: expect.closeTo(0.05, 12) });
    expect(gateDecision(lowerF1, 0.1).passed).toBe(true);
    const higherAbsRel = comparison('lower', 0.1, 0.13);
    expect(gateDecision(higherAbsRel, 0.02)).toEqual({ passed: false, worseBy: expect.closeTo(0.03, 12) });
  });

  it('pass a better canary, even with no margin', () => {
    expect(gateDecision(comparison('lower', 0.2, 0.1), 0)).toEqual({ passed: true, worseBy: expect.closeTo(-0.1, 12) });
    expect(gateDecision(comparison('higher', 30, 30), 0).passed).toBe(true);
  });
});
