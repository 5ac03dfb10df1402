import { psi, psiNoise } from './psi';

describe('psi', () => {
  it('is 0 for identical shares', () => {
    expect(psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5])).toBe(0);
  });

  it('matches the hand-computed value: (0.5, 0.5) → (0.25, 0.75) is 0.25 ln 2 + 0.25 ln 1.5 = 0.25 ln 3, less a hair of smoothing', () => {
    // Smoothed by hand: shares (p + 1e-4)/1.0002 → (0.5, 0.5) and (0.25005, 0.74995): 0.2745315.
    expect(psi([0.5, 0.5], [0.25, 0.75])).toBeCloseTo(0.2745315, 6);
    expect(Math.abs(psi([0.5, 0.5], [0.25, 0.75]) - 0.25 * Math.log(3))).toBeLessThan(2e-4);
  });

  it('matches the hand-computed value over ten deciles: two halved and two grown by half give 0.1 ln 2 + 0.1 ln 1.5 = 0.1 ln 3', () => {
    const expected = new Array<number>(10).fill(0.1);
    const actual = [0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.15, 0.15];
    expect(Math.abs(psi(expected, actual) - 0.1 * Math.log(3))).toBeLessThan(5e-4);
    expect(psi(expected, actual)).toBeCloseTo(0.1096185, 6);
  });

  it('is symmetric: swapping reference and production gives the same value', () => {
    expect(psi([0.1, 0.6, 0.3], [0.3, 0.3, 0.4])).toBeCloseTo(psi([0.3, 0.3, 0.4], [0.1, 0.6, 0.3]), 12);
  });

  it('stays finite for a bin the reference left empty, counting it heavily: 5 % of production there is about 0.31', () => {
    // 0.05 · ln(0.05 / 1e-4) + 0.05 · ln(1 / 0.95), with the smoothing's renormalisation: 0.3133320.
    expect(psi([1, 0], [0.95, 0.05])).toBeCloseTo(0.313332, 6);
    // Empty on both sides adds nothing.
    expect(psi([0.5, 0.5, 0], [0.25, 0.75, 0])).toBeCloseTo(psi([0.5, 0.5], [0.25, 0.75]), 4);
  });

  it('refuses shares over different bins or that do not sum to 1', () => {
    expect(() => psi([0.5, 0.5], [1])).toThrow('same bins');
    expect(() => psi([0.5, 0.4], [0.5, 0.5])).toThrow('sum to 1');
    expect(() => psi([], [])).toThrow('at least one bin');
  });
});

describe('psiNoise', () => {
  it('is (B − 1)(1/n + 1/m) over the bins the reference occupies', () => {
    expect(psiNoise(new Array<number>(10).fill(0.1), 200, 300)).toBeCloseTo(9 * (1 / 200 + 1 / 300), 12);
    // An "other" bin the reference never used adds no freedom.
    expect(psiNoise([0.7, 0.3, 0], 100, 100)).toBeCloseTo(0.02, 12);
    expect(psiNoise([1], 100, 100)).toBe(0);
  });
});
