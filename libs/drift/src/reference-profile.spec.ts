import {
  DRIFT_PSI_THRESHOLD,
  MIN_DRIFT_WINDOW,
  MIN_REFERENCE_ROWS,
  driftReportSchema,
  referenceProfileSchema,
  type CategoricalFeatureProfile,
  type NumericFeatureProfile,
  type ReferenceProfile,
} from '@fathom/contracts';
import { compareWithReference } from './compare';
import type { DriftRow } from './features';
import { InsufficientReferenceError, buildReferenceProfile } from './reference-profile';
import { inputFeatures, mulberry32, Synthetic, textDetectionRows } from './synthetic-rows';

const synthetic = (seed: number): Synthetic => new Synthetic(mulberry32(seed));
const feature = <T extends ReferenceProfile['features'][number]>(profile: ReferenceProfile, name: string): T => {
  const found = profile.features.find((f) => f.name === name);
  if (!found) throw new Error(`${name} not in the profile`);
  return found as T;
};

describe('buildReferenceProfile', () => {
  const rows = textDetectionRows(synthetic(1), 300);
  const profile = buildReferenceProfile('text-detection', rows);

  it('profiles every input feature and the task’s output features, numeric ones in at most ten bins', () => {
    expect(profile.features.map((f) => f.name)).toEqual([
      'input.bytes',
      'input.width',
      'input.height',
      'input.megapixels',
      'input.meanLuma',
      'input.contrast',
      'input.sharpness',
      'input.colourfulness',
      'input.saturation',
      'input.clipped',
      'input.format',
      'input.orientation',
      'output.boxes',
      'output.meanScore',
      'output.textArea',
    ]);
    expect(profile.rows).toBe(300);
    const meanLuma = feature<NumericFeatureProfile>(profile, 'input.meanLuma');
    expect(meanLuma.edges).toHaveLength(9);
    for (const share of meanLuma.shares) expect(share).toBeCloseTo(0.1, 1);
    // Six widths in the rows: at most a bin each, the same value never split.
    expect(feature<NumericFeatureProfile>(profile, 'input.width').shares.length).toBeLessThanOrEqual(6);
  });

  it('gives text detection’s null meanScore (no box found) a bin of its own', () => {
    const meanScore = feature<NumericFeatureProfile>(profile, 'output.meanScore');
    expect(meanScore.nullable).toBe(true);
    const noBox = rows.filter((row) => row.output?.task === 'text-detection' && row.output.meanScore === null).length;
    expect(meanScore.shares[meanScore.shares.length - 1]).toBeCloseTo(noBox / 300, 12);
    expect(meanScore.shares.length).toBeLessThanOrEqual(10);
  });

  it('keeps uncommon formats in "other": avif, 2 % of uploads, has no category of its own', () => {
    const format = feature<CategoricalFeatureProfile>(profile, 'input.format');
    expect(format.categories).toEqual(['jpeg', 'png', 'webp']);
    expect(format.shares[3]).toBeGreaterThan(0);
  });

  it('is valid JSON for the contract’s schema, and the same after a round trip', () => {
    expect(referenceProfileSchema.parse(JSON.parse(JSON.stringify(profile)))).toEqual(profile);
    expect(profile.histogram?.input).toHaveLength(24);
  });

  it('adds the top label as a category for classification and segmentation', () => {
    const s = synthetic(2);
    const labels = ['cat', 'dog', 'bird', 'car'];
    const classified: DriftRow[] = Array.from({ length: 250 }, (_, i) => ({
      input: inputFeatures(s),
      output: {
        task: 'classification',
        topLabel: labels[i % 4]!,
        topProbability: 0.5 + s.random() / 2,
        entropy: s.random(),
        classes: 1000,
      },
    }));
    const topLabel = feature<CategoricalFeatureProfile>(buildReferenceProfile('classification', classified), 'output.topLabel');
    // 63 cats and dogs, 62 birds and cars: most common first, then by name.
    expect(topLabel.categories).toEqual(['cat', 'dog', 'bird', 'car']);
    expect(topLabel.shares).toEqual([0.252, 0.252, 0.248, 0.248, 0]);
  });

  it('leaves out rows whose features are null, side by side', () => {
    const some = textDetectionRows(synthetic(3), 260).map((row, i) => (i < 50 ? { ...row, output: null } : row));
    const partial = buildReferenceProfile('text-detection', [...some, { input: null, output: null }]);
    expect(partial.rows).toBe(260);
    expect(feature(partial, 'input.meanLuma').count).toBe(260);
    expect(feature(partial, 'output.boxes').count).toBe(210);
  });

  it('leaves out a side with too few rows, and refuses when both have too few, saying how many it needs', () => {
    const inputOnly = textDetectionRows(synthetic(4), 250).map((row, i) => (i < 100 ? { ...row, output: null } : row));
    expect(buildReferenceProfile('text-detection', inputOnly).features.every((f) => f.side === 'input')).toBe(true);
    const few = textDetectionRows(synthetic(5), MIN_REFERENCE_ROWS - 1);
    expect(() => buildReferenceProfile('text-detection', few)).toThrow(InsufficientReferenceError);
    expect(() => buildReferenceProfile('text-detection', few)).toThrow(`at least ${MIN_REFERENCE_ROWS} rows`);
  });

  it('refuses rows of another task’s outputs', () => {
    const mixed = textDetectionRows(synthetic(6), 250);
    mixed[7] = { input: null, output: { task: 'classification', topLabel: 'cat', topProbability: 0.9, entropy: 0.1, classes: 2 } };
    expect(() => buildReferenceProfile('text-detection', mixed)).toThrow('row 7 has classification output features');
  });
});

describe('compareWithReference', () => {
  const s = synthetic(10);
  const profile = buildReferenceProfile('text-detection', textDetectionRows(s, 300));

  it('reports every profiled feature, its bins labelled, and a valid report for the contract', () => {
    const report = compareWithReference(profile, textDetectionRows(s, 200));
    expect(driftReportSchema.parse(report)).toEqual(report);
    expect(report.rows).toBe(200);
    expect(report.features.map((f) => f.name)).toEqual(profile.features.map((f) => f.name));
    for (const f of report.features) {
      expect(f.bins).toHaveLength(f.reference.length);
      expect(f.production).toHaveLength(f.reference.length);
      expect(f.drift).toBeCloseTo(Math.max(0, f.psi! - f.noise!), 12);
    }
    expect(feature(profile, 'output.meanScore').kind).toBe('numeric');
    expect(report.features.find((f) => f.name === 'output.meanScore')?.bins.at(-1)).toBe('(none)');
    expect(report.features.find((f) => f.name === 'input.format')?.bins).toEqual(['jpeg', 'png', 'webp', '(other)']);
    expect(report.histogram?.production).toHaveLength(24);
  });

  it('scores a side as its largest feature drift, flagged above the threshold', () => {
    const report = compareWithReference(profile, textDetectionRows(s, 200, { exposure: 0.6 }));
    const inputDrifts = report.features.filter((f) => f.side === 'input').map((f) => f.drift!);
    expect(report.scores.input).toBe(Math.max(...inputDrifts));
    expect(report.scores.input).toBeGreaterThan(DRIFT_PSI_THRESHOLD);
    expect(report.flagged).toEqual({ input: true, output: false });
    const meanLuma = report.features.find((f) => f.name === 'input.meanLuma')!;
    // Darkened: production piles into the lowest luma bins.
    expect(meanLuma.production[0]).toBeGreaterThan(0.4);
    expect(meanLuma.bins[0]).toMatch(/^< \d/);
  });

  it('gives no score below the minimum window, but still shows the shares', () => {
    const report = compareWithReference(profile, textDetectionRows(s, MIN_DRIFT_WINDOW - 1, { exposure: 0.6 }));
    expect(report.scores).toEqual({ input: null, output: null });
    expect(report.flagged).toEqual({ input: false, output: false });
    expect(report.features.find((f) => f.name === 'input.meanLuma')?.psi).toBeGreaterThan(DRIFT_PSI_THRESHOLD);
  });

  it('counts a format the reference never had in "other", and flags outputs where boxes stopped being found', () => {
    const window = textDetectionRows(s, 200).map((row): DriftRow => ({
      input: row.input && { ...row.input, format: 'gif' },
      output: { task: 'text-detection', boxes: 0, meanScore: null, textArea: 0 },
    }));
    const report = compareWithReference(profile, window);
    const format = report.features.find((f) => f.name === 'input.format')!;
    expect(format.production).toEqual([0, 0, 0, 1]);
    expect(format.drift).toBeGreaterThan(1);
    const meanScore = report.features.find((f) => f.name === 'output.meanScore')!;
    expect(meanScore.production.at(-1)).toBe(1);
    expect(report.flagged).toEqual({ input: true, output: true });
  });

  it('leaves a side it has no rows of unscored, with null PSIs', () => {
    const report = compareWithReference(
      profile,
      textDetectionRows(s, 200).map((row) => ({ ...row, output: null })),
    );
    expect(report.scores.output).toBeNull();
    expect(report.features.find((f) => f.name === 'output.boxes')).toMatchObject({ count: 0, psi: null, drift: null });
  });
});
