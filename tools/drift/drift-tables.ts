import { DRIFT_PSI_THRESHOLD, type DriftReferenceSource, type DriftSide, type ReferenceProfile } from '@fathom/contracts';
import { numericBinLabels, OTHER_LABEL } from '@fathom/drift';
import { formatValue } from '../eval/eval-tables';
import type { ModelDrift, ReferenceView, VersionDrift } from './drift-client';

/** Exit codes of `npm run drift -- status`: a script or a cron job branches on them. */
export const EXIT_NO_DRIFT = 0;
export const EXIT_DRIFT = 3;

/** Features shown per version, the most drifted first. */
const TOP_FEATURES = 5;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === 0 || c === r.length - 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function describeSource(source: DriftReferenceSource): string {
  if ('jobs' in source) return `${source.jobs.length} profiled images`;
  if ('evaluation' in source) return `evaluation ${source.evaluation}`;
  if ('from' in source) return `production from ${source.from} to ${source.to}`;
  return `the first ${source.firstDays} day${source.firstDays === 1 ? '' : 's'} of production`;
}

/** The reference just set: its rows and source, then each feature's bins and the reference's share in each. */
export function referenceSummary(reference: ReferenceView & { profile: ReferenceProfile }, model: string): string {
  const rows = reference.profile.features.map((feature) => {
    const labels =
      feature.kind === 'categorical' ? [...feature.categories, OTHER_LABEL] : numericBinLabels(feature.edges, feature.nullable);
    const bins = labels.map((label, i) => `${label} ${Math.round(100 * (feature.shares[i] ?? 0))}%`).join(' | ');
    return [feature.name, String(feature.count), String(labels.length), bins];
  });
  return [
    `${model}: drift reference of ${reference.rows} predictions (${describeSource(reference.source)}), set ${reference.createdAt} by ${reference.createdBy}`,
    `task ${reference.profile.task}, ${reference.profile.features.length} features profiled`,
    '',
    table([['feature', 'values', 'bins', 'reference share per bin'], ...rows]),
  ].join('\n');
}

function sideLine(version: VersionDrift, side: DriftSide): string {
  const score = version.report?.scores[side] ?? null;
  if (score === null)
    return `  ${side.padEnd(6)} no score (fewer than 200 production predictions in the window, or the side is not profiled)`;
  const flagged = version.report!.flagged[side];
  return `  ${side.padEnd(6)} score ${formatValue(score).padEnd(7)} ${flagged ? `DRIFT (above ${DRIFT_PSI_THRESHOLD})` : 'ok'}`;
}

/** One version's block: its reference, its window, each side's score and the features that moved most. */
function versionBlock(model: string, version: VersionDrift): string {
  const head = `${model}@${version.version}`;
  if (!version.reference) {
    return `${head}: no drift reference (set one: npm run drift -- reference <folder> --model ${model}@${version.version}); ${version.window.rows} predictions in the window`;
  }
  const lines = [
    `${head}: reference of ${version.reference.rows} predictions (${describeSource(version.reference.source)}); window of ${version.window.rows} production predictions` +
      (version.window.from ? ` (${version.window.from} to ${version.window.to})` : ''),
    sideLine(version, 'input'),
    sideLine(version, 'output'),
  ];
  const top = (version.report?.features ?? [])
    .filter((f) => f.psi !== null)
    .sort((a, b) => (b.drift ?? 0) - (a.drift ?? 0) || (b.psi ?? 0) - (a.psi ?? 0))
    .slice(0, TOP_FEATURES);
  if (top.length > 0) {
    lines.push(
      '',
      table([
        ['  feature', 'PSI', 'noise', 'drift', ''],
        ...top.map((f) => [
          `  ${f.name}`,
          formatValue(f.psi),
          formatValue(f.noise),
          formatValue(f.drift),
          (f.drift ?? 0) > DRIFT_PSI_THRESHOLD ? '*' : '',
        ]),
      ]),
    );
  }
  return lines.join('\n');
}

/** `status`'s text, and its exit code: EXIT_DRIFT when any version's side is flagged. */
export function statusReport(drift: ModelDrift): { text: string; code: number } {
  const text = drift.versions.length
    ? drift.versions.map((v) => versionBlock(drift.model, v)).join('\n\n')
    : `${drift.model} has no versions.`;
  const flagged = drift.versions.some((v) => v.report?.flagged.input || v.report?.flagged.output);
  return { text, code: flagged ? EXIT_DRIFT : EXIT_NO_DRIFT };
}
