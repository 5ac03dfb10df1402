import {
  HISTOGRAM_LENGTH,
  MAX_DRIFT_BINS,
  MIN_REFERENCE_ROWS,
  type DriftSide,
  type FeatureProfile,
  type ReferenceProfile,
  type TaskName,
} from '@fathom/contracts';
import { commonCategories, numericBin, quantileEdges, sharesOf } from './bins';
import { categoryValue, featureDefinitions, numericValue, sideFeatures, type DriftRow, type FeatureDefinition } from './features';

/** Too few rows to profile: `counts` says how many each side had, against MIN_REFERENCE_ROWS. */
export class InsufficientReferenceError extends Error {
  constructor(readonly counts: Record<DriftSide, number>) {
    super(
      `a reference profile needs at least ${MIN_REFERENCE_ROWS} rows with input or output features; got ${counts.input} with input and ${counts.output} with output features: wait for more predictions or widen the reference window`,
    );
    this.name = 'InsufficientReferenceError';
  }
}

/**
 * A task's reference profile from logged rows: each feature's bins fixed by these rows and their
 * shares. Rows whose features of a side are null are left out of that side. A side with fewer than
 * MIN_REFERENCE_ROWS rows is left out of the profile (its score will be null); with both short it
 * throws InsufficientReferenceError.
 */
export function buildReferenceProfile(task: TaskName, rows: readonly DriftRow[]): ReferenceProfile {
  const sides = { input: sideFeatures(task, rows, 'input'), output: sideFeatures(task, rows, 'output') };
  const profiled = (side: DriftSide): boolean => sides[side].length >= MIN_REFERENCE_ROWS;
  if (!profiled('input') && !profiled('output'))
    throw new InsufficientReferenceError({ input: sides.input.length, output: sides.output.length });
  const features = featureDefinitions(task)
    .filter((definition) => profiled(definition.side))
    .map((definition) => featureProfile(definition, sides[definition.side]));
  const profile: ReferenceProfile = {
    task,
    rows: rows.filter((row) => row.input !== null || row.output !== null).length,
    features,
  };
  if (profiled('input')) profile.histogram = { input: meanHistogram(sides.input) };
  return profile;
}

function featureProfile(definition: FeatureDefinition, rows: readonly Record<string, unknown>[]): FeatureProfile {
  const base = { name: definition.name, side: definition.side, count: rows.length };
  if (definition.kind === 'categorical') {
    const values = rows.map((row) => categoryValue(row, definition));
    const categories = commonCategories(values);
    return { ...base, kind: 'categorical', categories, shares: sharesOf(categoryCounts(categories, values)) };
  }
  const values = rows.map((row) => numericValue(row, definition));
  const numbers = values.filter((value): value is number => value !== null);
  // The null bin counts against the bins a feature may have.
  const edges = quantileEdges(numbers, MAX_DRIFT_BINS - (definition.nullable ? 1 : 0));
  return {
    ...base,
    kind: 'numeric',
    edges,
    nullable: definition.nullable,
    shares: sharesOf(numericCounts(edges, definition.nullable, values)),
  };
}

/** Counts per bin of a numeric profile's bins, nulls in the last when nullable. */
export function numericCounts(edges: readonly number[], nullable: boolean, values: readonly (number | null)[]): number[] {
  const counts = new Array<number>(edges.length + 1 + (nullable ? 1 : 0)).fill(0);
  for (const value of values) counts[value === null ? edges.length + 1 : numericBin(edges, value)]!++;
  return counts;
}

/** Counts per category, then of every other value. */
export function categoryCounts(categories: readonly string[], values: readonly string[]): number[] {
  const index = new Map(categories.map((category, i) => [category, i]));
  const counts = new Array<number>(categories.length + 1).fill(0);
  for (const value of values) counts[index.get(value) ?? categories.length]!++;
  return counts;
}

/** Mean of the rows' colour histograms, bin by bin (each channel's 8 shares still sum to 1). */
export function meanHistogram(rows: readonly Record<string, unknown>[]): number[] {
  const sum = new Array<number>(HISTOGRAM_LENGTH).fill(0);
  for (const row of rows) {
    const histogram = row.histogram as readonly number[];
    for (let i = 0; i < HISTOGRAM_LENGTH; i++) sum[i]! += histogram[i]!;
  }
  return sum.map((total) => total / rows.length);
}
