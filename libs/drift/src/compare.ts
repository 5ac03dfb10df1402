import {
  DRIFT_PSI_THRESHOLD,
  MIN_DRIFT_WINDOW,
  type DriftReport,
  type DriftSide,
  type FeatureDrift,
  type FeatureProfile,
  type ReferenceProfile,
} from '@fathom/contracts';
import { OTHER_LABEL, numericBinLabels, sharesOf } from './bins';
import { categoryValue, numericValue, sideFeatures, type DriftRow } from './features';
import { psi, psiNoise } from './psi';
import { categoryCounts, meanHistogram, numericCounts } from './reference-profile';

/**
 * A production window against a reference profile: each profiled feature's PSI and its drift
 * estimate, and per side a score that is flagged above DRIFT_PSI_THRESHOLD.
 *
 * The score is honest about sampling noise. A window's PSI is never 0 even with no drift: its
 * expected value is (B − 1)(1/n + 1/m), 0.075 at B = 10, n = 200, m = 300, and with ~12 features
 * the largest plain PSI crosses 0.2 in about a fifth of same-distribution windows at m = 200
 * (docs/drift.md). So each feature's drift is its PSI less that noise, floored at 0 (an estimate
 * of the PSI between the populations themselves), and a side's score is the largest drift:
 *  - the largest, not a mean or a trimmed mean, because real shifts often move one feature
 *    (blur shows in sharpness alone) and averaging would hide them behind the unmoved ones;
 *  - corrected rather than thresholded higher, so the score means the same at every window and
 *    reference size, and a score of 0.3 is a PSI of about 0.3, not noise plus something.
 * What that costs: a drift right at the threshold is flagged about half the time. A half standard
 * deviation shift of a normal feature (population PSI ≈ 0.24) is flagged in about two of three
 * windows of 200; a 0.75 σ one (PSI ≈ 0.5) in all of them. The spec measures both.
 */
export function compareWithReference(profile: ReferenceProfile, rows: readonly DriftRow[]): DriftReport {
  const sides = { input: sideFeatures(profile.task, rows, 'input'), output: sideFeatures(profile.task, rows, 'output') };
  const features = profile.features.map((feature) => featureDrift(feature, sides[feature.side]));
  const score = (side: DriftSide): number | null => {
    const drifts = features.filter((f) => f.side === side).map((f) => f.drift);
    if (sides[side].length < MIN_DRIFT_WINDOW || drifts.length === 0) return null;
    return Math.max(...drifts.map((drift) => drift ?? 0));
  };
  const scores = { input: score('input'), output: score('output') };
  const report: DriftReport = {
    rows: rows.length,
    features,
    scores,
    flagged: {
      input: scores.input !== null && scores.input > DRIFT_PSI_THRESHOLD,
      output: scores.output !== null && scores.output > DRIFT_PSI_THRESHOLD,
    },
  };
  if (profile.histogram && sides.input.length > 0) {
    report.histogram = { reference: profile.histogram.input, production: meanHistogram(sides.input) };
  }
  return report;
}

function featureDrift(feature: FeatureProfile, rows: readonly Record<string, unknown>[]): FeatureDrift {
  const definition = { name: feature.name, key: feature.name.slice(feature.side.length + 1) };
  let counts: number[];
  let bins: string[];
  if (feature.kind === 'categorical') {
    counts = categoryCounts(
      feature.categories,
      rows.map((row) => categoryValue(row, definition)),
    );
    bins = [...feature.categories, OTHER_LABEL];
  } else {
    const numeric = { ...definition, nullable: feature.nullable };
    counts = numericCounts(
      feature.edges,
      feature.nullable,
      rows.map((row) => numericValue(row, numeric)),
    );
    bins = numericBinLabels(feature.edges, feature.nullable);
  }
  const production = sharesOf(counts);
  const n = rows.length;
  const measurable = n > 0 && feature.count > 0;
  const measured = measurable ? psi(feature.shares, production) : null;
  const noise = measurable ? psiNoise(feature.shares, n, feature.count) : null;
  return {
    name: feature.name,
    side: feature.side,
    count: n,
    psi: measured,
    noise,
    drift: measured === null || noise === null ? null : Math.max(0, measured - noise),
    reference: feature.shares,
    production,
    bins,
  };
}
