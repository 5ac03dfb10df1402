import { z } from 'zod';
import { HISTOGRAM_LENGTH } from './prediction-features';
import { taskNameSchema } from './tasks';

/**
 * Drift (issue 15): a model version's reference profile (its features' distributions, binned once)
 * and a production window's comparison with it. The mathematics are in libs/drift; docs/drift.md
 * explains the bins, PSI, the per-side score and its calibration. Both shapes are stored as JSON.
 */

/** A side's score above this flags drift (PSI's usual "significant shift" line). */
export const DRIFT_PSI_THRESHOLD = 0.2;
/**
 * Fewest production rows (on a side) for a score: below it the score is null. At 200 rows a
 * window's noise alone stays well under the threshold (docs/drift.md has the simulation's figures).
 */
export const MIN_DRIFT_WINDOW = 200;
/** Fewest rows (on a side) a reference profile is built from. */
export const MIN_REFERENCE_ROWS = 200;
/** Most rows a reference profile is built from (a source with more is sampled evenly; `npm run drift -- reference` profiles this many images at most). */
export const MAX_REFERENCE_ROWS = 20_000;
/** Most bins per feature (numeric or categorical, "other" and "none" included). */
export const MAX_DRIFT_BINS = 10;

export const driftSideSchema = z.enum(['input', 'output']);
export type DriftSide = z.infer<typeof driftSideSchema>;

/** `input.meanLuma`, `output.topLabel`: the side, a dot, the feature's name in its features object. */
export const driftFeatureNameSchema = z.string().regex(/^(input|output)\.[A-Za-z][A-Za-z0-9]*$/, 'input.<feature> or output.<feature>');

const share = z.number().min(0).max(1);
/** Shares may miss 1 by float rounding, no more. */
const SHARE_SUM_TOLERANCE = 1e-6;
const sumsToOneOrZero = (shares: number[]): boolean => {
  const sum = shares.reduce((a, b) => a + b, 0);
  return Math.abs(sum - 1) <= SHARE_SUM_TOLERANCE || sum === 0;
};

const featureBase = {
  name: driftFeatureNameSchema,
  side: driftSideSchema,
  /** How many reference values the shares are of. */
  count: z.number().int().min(0),
};

/**
 * A numeric feature: `edges` are the inner bin edges (ascending), fixed by the reference; bin 0 is
 * x < edges[0], bin i is edges[i−1] ≤ x < edges[i], the last x ≥ the last edge. When `nullable`
 * (text detection's meanScore, null when no box was found), one more bin at the end holds nulls.
 */
export const numericFeatureProfileSchema = z
  .object({
    ...featureBase,
    kind: z.literal('numeric'),
    edges: z.array(z.number()).max(MAX_DRIFT_BINS),
    nullable: z.boolean(),
    shares: z
      .array(share)
      .min(1)
      .max(MAX_DRIFT_BINS + 1),
  })
  .strict()
  .refine((f) => f.edges.every((edge, i) => i === 0 || edge > f.edges[i - 1]!), { message: 'edges must be strictly ascending' })
  .refine((f) => f.shares.length === f.edges.length + 1 + (f.nullable ? 1 : 0), {
    message: 'shares need one entry per bin: edges + 1, plus 1 when nullable',
  })
  .refine((f) => sumsToOneOrZero(f.shares), { message: 'shares must sum to 1' });
export type NumericFeatureProfile = z.infer<typeof numericFeatureProfileSchema>;

/** A categorical feature: the reference's common values, then one last share for every other value (seen or not). */
export const categoricalFeatureProfileSchema = z
  .object({
    ...featureBase,
    kind: z.literal('categorical'),
    categories: z.array(z.string()).max(MAX_DRIFT_BINS - 1),
    shares: z.array(share).min(1).max(MAX_DRIFT_BINS),
  })
  .strict()
  .refine((f) => new Set(f.categories).size === f.categories.length, { message: 'categories must be distinct' })
  .refine((f) => f.shares.length === f.categories.length + 1, { message: 'shares need one entry per category, then one for "other"' })
  .refine((f) => sumsToOneOrZero(f.shares), { message: 'shares must sum to 1' });
export type CategoricalFeatureProfile = z.infer<typeof categoricalFeatureProfileSchema>;

export const featureProfileSchema = z.union([numericFeatureProfileSchema, categoricalFeatureProfileSchema]);
export type FeatureProfile = z.infer<typeof featureProfileSchema>;

export const referenceProfileSchema = z
  .object({
    task: taskNameSchema,
    /** Rows the profile was built from: those with input or output features. */
    rows: z.number().int().min(0),
    features: z.array(featureProfileSchema),
    /** Mean colour histogram of the reference's inputs (R's 8 bins, then G's, then B's); shown beside the production window's, not scored. */
    histogram: z
      .object({ input: z.array(share).length(HISTOGRAM_LENGTH) })
      .strict()
      .optional(),
  })
  .strict();
export type ReferenceProfile = z.infer<typeof referenceProfileSchema>;

export const featureDriftSchema = z
  .object({
    name: driftFeatureNameSchema,
    side: driftSideSchema,
    /** Production values of this feature in the window. */
    count: z.number().int().min(0),
    /** PSI as measured; null when the window holds no value of this feature. */
    psi: z.number().min(0).nullable(),
    /** PSI's expected value with no drift at all, (B − 1)(1/n + 1/m): what sampling noise alone adds. */
    noise: z.number().min(0).nullable(),
    /** max(0, psi − noise): the estimate of the drift itself, what the side's score takes the largest of. */
    drift: z.number().min(0).nullable(),
    reference: z.array(share),
    production: z.array(share),
    /** One label per bin: "< 12.5", "12.5–40", "≥ 40", a category, "(other)", "(none)". */
    bins: z.array(z.string()),
  })
  .strict();
export type FeatureDrift = z.infer<typeof featureDriftSchema>;

const sidesOf = <T extends z.ZodType>(value: T) => z.object({ input: value, output: value }).strict();

export const driftReportSchema = z
  .object({
    /** Rows in the production window. */
    rows: z.number().int().min(0),
    features: z.array(featureDriftSchema),
    /** Per side, the largest feature drift; null when the side has fewer than MIN_DRIFT_WINDOW rows or no profiled feature. */
    scores: sidesOf(z.number().min(0).nullable()),
    /** score > DRIFT_PSI_THRESHOLD. */
    flagged: sidesOf(z.boolean()),
    /** Mean colour histograms of the inputs, when both the profile and the window have some. */
    histogram: z
      .object({ reference: z.array(share).length(HISTOGRAM_LENGTH), production: z.array(share).length(HISTOGRAM_LENGTH) })
      .strict()
      .optional(),
  })
  .strict();
export type DriftReport = z.infer<typeof driftReportSchema>;
