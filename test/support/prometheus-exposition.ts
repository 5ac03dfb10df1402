import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@fathom/testing';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A /metrics answer as a scraper reads it: each metric's declared type, and every sample. */
export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

/** The Prometheus text format → types and samples; a line that is neither fails the test. */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!sample) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[key!] = value!.replace(/\\(.)/g, '$1');
    samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
  }
  return { types, samples };
}

/** The processes docs/metrics.md has a table for (`## API`, `## Worker`, `## Launcher`). */
export type MetricsSection = 'API' | 'Worker' | 'Launcher';

/** One table of docs/metrics.md: each fathom_ metric with its type and label names. */
export function documentedMetrics(section: MetricsSection): Map<string, { type: string; labels: string[] }> {
  const doc = readFileSync(join(repoRoot(), 'docs/metrics.md'), 'utf8');
  const body = doc.split(new RegExp(`^## ${section}\\b.*$`, 'm'))[1]?.split(/^## /m)[0];
  if (body === undefined) throw new Error(`docs/metrics.md has no "## ${section}" section`);
  const metrics = new Map<string, { type: string; labels: string[] }>();
  for (const row of body.split('\n').filter((l) => l.startsWith('| `fathom_'))) {
    const [names = '', type = '', labels = ''] = row
      .split('|')
      .slice(1)
      .map((cell) => cell.trim());
    // A label's values may follow it in brackets: `state` (`waiting`, `active`, …).
    const labelNames =
      labels === '—'
        ? []
        : labels
            .replace(/\([^)]*\)/g, '')
            .split(',')
            .map((part) => /`([a-z_]+)`/.exec(part)?.[1] ?? part.trim());
    for (const [, name] of names.matchAll(/`(fathom_[a-z_]+)`/g)) metrics.set(name!, { type: type.split(' ')[0]!, labels: labelNames });
  }
  return metrics;
}

/**
 * docs/metrics.md as the checklist: every fathom_ metric a process serves is in its table with the
 * same type and label names, and every metric of the table is served.
 */
export function expectServedAsDocumented(scrape: Exposition, section: MetricsSection): void {
  const documented = documentedMetrics(section);
  expect(documented.size).toBeGreaterThan(0);
  const served = [...scrape.types.keys()].filter((name) => name.startsWith('fathom_'));
  expect(served.sort()).toEqual([...documented.keys()].sort());
  for (const [name, { type, labels }] of documented) {
    expect([name, scrape.types.get(name)]).toEqual([name, type]);
    const series = scrape.samples.filter(
      (s) => s.name === name || (type === 'histogram' && [`${name}_bucket`, `${name}_sum`, `${name}_count`].includes(s.name)),
    );
    for (const sample of series)
      expect([
        sample.name,
        Object.keys(sample.labels)
          .filter((l) => l !== 'le')
          .sort(),
      ]).toEqual([sample.name, [...labels].sort()]);
  }
}
