import {
  INPUT_FEATURE_NAMES,
  OUTPUT_FEATURE_NAMES,
  OUTPUT_FEATURE_SHAPES,
  type DriftSide,
  type InputFeatures,
  type OutputFeatures,
  type TaskName,
} from '@fathom/contracts';

/** One logged prediction's features, as drift reads them; a side that was not computed is null. */
export interface DriftRow {
  input: InputFeatures | null;
  output: OutputFeatures | null;
}

/** A feature drift profiles: its name (`input.meanLuma`), side, kind, and whether it may be null. */
export interface FeatureDefinition {
  name: string;
  side: DriftSide;
  key: string;
  kind: 'numeric' | 'categorical';
  nullable: boolean;
}

/** The categorical features: the upload's format and EXIF orientation, and the top label where a task has one. */
const INPUT_CATEGORIES = ['format', 'orientation'] as const;
const OUTPUT_CATEGORIES = ['topLabel'] as const;

/**
 * The features a task's profile holds, inputs first, in contract order. Numeric ones are
 * INPUT_FEATURE_NAMES and OUTPUT_FEATURE_NAMES[task]; an output feature is nullable when its
 * contract schema takes null (text detection's meanScore): its nulls get a bin of their own,
 * since "no box found" becoming common is itself a drift worth seeing.
 */
export function featureDefinitions(task: TaskName): FeatureDefinition[] {
  const shape: Record<string, { safeParse(value: unknown): { success: boolean } }> = OUTPUT_FEATURE_SHAPES[task];
  const definition = (side: DriftSide, key: string, kind: FeatureDefinition['kind'], nullable = false): FeatureDefinition => ({
    name: `${side}.${key}`,
    side,
    key,
    kind,
    nullable,
  });
  return [
    ...INPUT_FEATURE_NAMES.map((key) => definition('input', key, 'numeric')),
    ...INPUT_CATEGORIES.map((key) => definition('input', key, 'categorical')),
    ...(OUTPUT_FEATURE_NAMES[task] as readonly string[]).map((key) =>
      definition('output', key, 'numeric', shape[key]?.safeParse(null).success ?? false),
    ),
    ...OUTPUT_CATEGORIES.filter((key) => key in shape).map((key) => definition('output', key, 'categorical')),
  ];
}

/** The rows' features of one side for `task`, nulls left out; throws on an output of another task. */
export function sideFeatures(task: TaskName, rows: readonly DriftRow[], side: DriftSide): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  for (const [i, row] of rows.entries()) {
    const features = row[side];
    if (features === null) continue;
    if (side === 'output' && (features as OutputFeatures).task !== task) {
      throw new Error(
        `row ${i} has ${(features as OutputFeatures).task} output features; this profile is for ${task}: compare a model version's own rows`,
      );
    }
    found.push(features);
  }
  return found;
}

/** A numeric feature's value (null allowed only where it is nullable). */
export function numericValue(
  features: Record<string, unknown>,
  definition: Pick<FeatureDefinition, 'name' | 'key' | 'nullable'>,
): number | null {
  const value = features[definition.key];
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (value === null && definition.nullable) return null;
  throw new Error(`${definition.name} is ${JSON.stringify(value)}, not a finite number${definition.nullable ? ' or null' : ''}`);
}

/** A categorical feature's value as a string (orientation is a number). */
export function categoryValue(features: Record<string, unknown>, definition: Pick<FeatureDefinition, 'name' | 'key'>): string {
  const value = features[definition.key];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new Error(`${definition.name} is ${JSON.stringify(value)}, not a category`);
}
