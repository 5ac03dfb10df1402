import { TASK_METRICS, type ComparisonView, type EvaluationView, type MetricDeclaration } from '@fathom/contracts';

/** A number as the tables show it: four significant digits, integers as they are. */
export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return Number(value.toPrecision(4)).toString();
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

/** The evaluation's metrics, its latency per stage and its throughput, as the CLI prints them. */
export function evaluationTable(view: EvaluationView): string {
  const declared = TASK_METRICS[view.dataset.task] as readonly MetricDeclaration[];
  const lines = [
    `${view.model.name}@${view.model.version}${view.model.variant ? `#${view.model.variant}` : ''} on ${view.dataset.name}@${view.dataset.version} (${view.dataset.task}): ${view.state}, ` +
      `${view.progress.done - view.progress.failed} of ${view.progress.total} samples scored` +
      (view.progress.failed ? `, ${view.progress.failed} failed` : '') +
      (view.executionProviders.length ? ` on ${view.executionProviders.join(', ')}` : ''),
    '',
    table([['metric', 'value', 'better'], ...declared.map((m) => [m.label, formatValue(view.metrics?.[m.name]), m.better])]),
  ];
  if (view.latency) {
    const stages = Object.entries(view.latency);
    lines.push('', table([['stage (ms)', 'p50', 'p95'], ...stages.map(([stage, p]) => [stage, formatValue(p.p50), formatValue(p.p95)])]));
  }
  if (view.throughput !== null) lines.push('', `throughput: ${formatValue(view.throughput)} images/s`);
  if (view.error) lines.push('', `error: ${view.error}`);
  return lines.join('\n');
}

/** b against a: each metric's values, difference, 95 % interval and verdict. */
export function comparisonTable(comparison: ComparisonView): string {
  const declared = TASK_METRICS[comparison.dataset.task] as readonly MetricDeclaration[];
  const label = (name: string) => declared.find((m) => m.name === name)?.label ?? name;
  return [
    `${comparison.b.model} (b) against ${comparison.a.model} (a) on ${comparison.dataset.name}@${comparison.dataset.version}: ` +
      `${comparison.pairs} paired samples, ${comparison.resamples} bootstrap resamples`,
    '',
    table([
      ['metric', 'a', 'b', 'b − a', '95 % CI', 'verdict'],
      ...comparison.metrics.map((m) => [
        label(m.metric),
        formatValue(m.a),
        formatValue(m.b),
        formatValue(m.delta),
        `[${formatValue(m.ci95[0])}, ${formatValue(m.ci95[1])}]`,
        m.verdict,
      ]),
    ]),
  ].join('\n');
}
