/**
 * Population stability index and the noise a finite sample adds to it.
 *
 * PSI = Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ) over bins, e the reference's shares and a production's: the
 * symmetric (Jeffreys) divergence of the two binned distributions, 0 when they are equal.
 */

/**
 * Added to every share before PSI's logarithm, then each distribution renormalised:
 * (p + ε) / (1 + Bε). An empty bin would otherwise make ln(a/0) infinite; with ε = 1e-4 a bin
 * empty in the reference that holds 5 % of production adds 0.05 · ln(0.05/1e-4) ≈ 0.31, so values
 * the reference never saw still count, and a bin empty on both sides adds exactly 0.
 */
export const PSI_SMOOTHING = 1e-4;

/** PSI of `actual` against `expected`, both shares over the same bins (each summing to 1). */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  if (expected.length !== actual.length)
    throw new Error(`psi needs shares over the same bins: ${expected.length} expected, ${actual.length} actual`);
  if (expected.length === 0) throw new Error('psi needs at least one bin');
  for (const [what, shares] of [
    ['expected', expected],
    ['actual', actual],
  ] as const) {
    const sum = shares.reduce((a, b) => a + b, 0);
    if (!(Math.abs(sum - 1) <= 1e-6) || shares.some((s) => !(s >= 0))) {
      throw new Error(`psi's ${what} shares must be non-negative and sum to 1 (they sum to ${sum})`);
    }
  }
  const norm = 1 + expected.length * PSI_SMOOTHING;
  let total = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = (expected[i]! + PSI_SMOOTHING) / norm;
    const a = (actual[i]! + PSI_SMOOTHING) / norm;
    total += (a - e) * Math.log(a / e);
  }
  // Each term is ≥ 0 ((a − e) and ln(a/e) share their sign); the sum only rounds below 0 at 0.
  return Math.max(0, total);
}

/**
 * PSI's expected value when production is drawn from the reference's own distribution:
 * (B − 1)(1/n + 1/m), n production values, m reference ones, B the bins the reference occupies.
 * For small differences PSI ≈ Σ (a − e)²/e, which is (1/n + 1/m) times a χ² statistic with B − 1
 * degrees of freedom; bins the reference left empty stay empty on both sides with no drift, so
 * they add no freedom. At B = 10, n = 200, m = 300 that is 0.075: over a third of the threshold
 * from noise alone.
 */
export function psiNoise(referenceShares: readonly number[], n: number, m: number): number {
  const occupied = referenceShares.filter((s) => s > 0).length;
  return Math.max(0, occupied - 1) * (1 / n + 1 / m);
}
