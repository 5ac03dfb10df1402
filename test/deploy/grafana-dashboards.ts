import { readdirSync } from 'node:fs';
import { isDict, readText, repoPath, type Dict } from './deploy-files';

/** The provisioned dashboards (deploy/grafana/dashboards/*.json), their panels and their PromQL. */
export const DASHBOARDS_DIR = repoPath('deploy', 'grafana', 'dashboards');

export interface DashboardFile {
  file: string;
  /** The parsed JSON, or undefined when it does not parse (see `error`). */
  json?: Dict;
  error?: string;
}

export function dashboardFiles(): DashboardFile[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      try {
        const json = JSON.parse(readText('deploy', 'grafana', 'dashboards', file)) as unknown;
        return isDict(json) ? { file, json } : { file, error: 'the top level is not an object' };
      } catch (error) {
        return { file, error: (error as Error).message };
      }
    });
}

/** Every panel, rows' nested panels (collapsed rows keep theirs inside) included. */
export function panelsOf(dashboard: Dict): Dict[] {
  const top = Array.isArray(dashboard['panels']) ? (dashboard['panels'] as unknown[]).filter(isDict) : [];
  return top.flatMap((p) => [p, ...(Array.isArray(p['panels']) ? (p['panels'] as unknown[]).filter(isDict) : [])]);
}

export function targetsOf(panel: Dict): Dict[] {
  return Array.isArray(panel['targets']) ? (panel['targets'] as unknown[]).filter(isDict) : [];
}

export interface PanelQuery {
  file: string;
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

/** Every target expression of every panel of every dashboard that parses. */
export function panelQueries(files: DashboardFile[] = dashboardFiles()): PanelQuery[] {
  return files.flatMap(({ file, json }) =>
    json
      ? panelsOf(json).flatMap((panel) =>
          targetsOf(panel)
            .filter((t) => typeof t['expr'] === 'string')
            .map((t) => ({
              file,
              dashboard: String(json['title']),
              panel: String(panel['title']),
              refId: String(t['refId']),
              expr: String(t['expr']),
            })),
        )
      : [],
  );
}

/** Grafana's built-in variables a dashboard may use without declaring them. */
export const BUILTIN_VARIABLES = ['__rate_interval', '__interval', '__interval_ms', '__range', '__range_s', '__range_ms'];

const VARIABLE = /\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]/g;

/** Names of the template variables an expression uses (`$model`, `${model}`, `[[model]]`); `$1` in label_replace is not one. */
export function variablesIn(expr: string): string[] {
  return [...expr.matchAll(VARIABLE)].map((m) => (m[1] ?? m[2] ?? m[3])!).filter((name) => !/^\d/.test(name));
}

/** Replaces the template variables as Grafana would, with `values`; an unknown variable throws. */
export function interpolateVariables(expr: string, values: Record<string, string>): string {
  return expr.replace(VARIABLE, (match, braced: string | undefined, bare: string | undefined, bracketed: string | undefined) => {
    const name = (braced ?? bare ?? bracketed)!;
    if (/^\d/.test(name)) return match;
    const value = values[name];
    if (value === undefined) throw new Error(`no value for template variable ${match} in: ${expr}`);
    return value;
  });
}

/** A vector selector as written: `fathom_jobs_failed_total{job="fathom-worker", final="true"}`. */
export interface Selector {
  metric: string;
  /** The label matchers with their braces, or "" when there are none. */
  matchers: string;
  text: string;
}

const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const AGGREGATIONS = [
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
];
// Aggregations count too: in `sum by (le) (…)` the name is not followed by its parenthesis.
const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan', 'atan2', ...GROUPING, ...AGGREGATIONS]);

/**
 * The vector selectors of a PromQL expression, by a small lexer: strings, range and subquery
 * brackets, numbers and durations, function names, aggregations, keywords and the label lists of
 * by/without/on/ignoring/group_left/group_right are skipped; any other identifier is a metric name.
 */
export function selectorsIn(expr: string): Selector[] {
  const selectors: Selector[] = [];
  let i = 0;
  const skipString = (at: number) => {
    const quote = expr[at]!;
    let j = at + 1;
    while (j < expr.length && expr[j] !== quote) j += expr[j] === '\\' && quote !== '`' ? 2 : 1;
    return j + 1;
  };
  const skipTo = (at: number, close: string) => {
    let j = at;
    while (j < expr.length && expr[j] !== close) j = /["'`]/.test(expr[j]!) ? skipString(j) : j + 1;
    return j + 1;
  };
  const skipSpace = (at: number) => {
    let j = at;
    while (j < expr.length && /\s/.test(expr[j]!)) j++;
    return j;
  };
  while (i < expr.length) {
    const c = expr[i]!;
    if (/["'`]/.test(c)) i = skipString(i);
    else if (c === '[') i = skipTo(i, ']');
    else if (c === '{') i = skipTo(i, '}');
    else if (c === '#') i = skipTo(i, '\n');
    else if (/[0-9.]/.test(c)) i += /^[0-9.]*(?:e[+-]?\d+)?[a-z]*/i.exec(expr.slice(i))![0].length || 1;
    else if (/[A-Za-z_:]/.test(c)) {
      const name = /^[A-Za-z_:][\w:]*/.exec(expr.slice(i))![0];
      const start = i;
      i = skipSpace(i + name.length);
      if (expr[i] === '(') {
        if (GROUPING.has(name.toLowerCase())) i = skipTo(i, ')');
        continue;
      }
      if (KEYWORDS.has(name.toLowerCase())) continue;
      let end = start + name.length;
      let matchers = '';
      if (expr[i] === '{') {
        end = skipTo(i, '}');
        matchers = expr.slice(i, end);
        i = end;
      }
      selectors.push({ metric: name, matchers, text: expr.slice(start, end) });
    } else i++;
  }
  return selectors;
}

export interface DocumentedMetric {
  name: string;
  type: string;
  /** Who serves it: the heading of its table (`API`, `Worker`). */
  servedBy: string;
}

/** The metrics docs/metrics.md's tables define, with their type (a row may name two metrics). */
export function documentedMetrics(): DocumentedMetric[] {
  let servedBy = '';
  return readText('docs', 'metrics.md')
    .split('\n')
    .flatMap((line) => {
      const heading = /^## (\w+)/.exec(line);
      if (heading) servedBy = heading[1]!;
      if (!line.startsWith('| `')) return [];
      const [, names = '', type = ''] = line.split('|').map((cell) => cell.trim());
      return [...names.matchAll(/`([a-z_:][a-z0-9_:]*)`/g)].map((m) => ({ name: m[1]!, type, servedBy }));
    });
}
