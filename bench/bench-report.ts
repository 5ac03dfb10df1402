import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MachineInfo } from './bench-machine';
import type { ScenarioResult } from './scenario';

export interface BenchRun {
  machine: MachineInfo;
  command: string;
  quick: boolean;
  scenarios: ScenarioResult[];
}

const START = '<!-- bench:results:start (written by npm run bench; edit the text around it) -->';
const END = '<!-- bench:results:end -->';

export function writeResultsJson(root: string, run: BenchRun): string {
  const file = join(root, 'reports', 'bench', 'results.json');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(run, null, 2) + '\n');
  return file;
}

/** A figure as table text: objects as `name value` pairs, nested ones in parentheses. */
export const cell = (value: unknown): string =>
  typeof value === 'object' && value !== null
    ? Object.entries(value)
        .map(([k, v]) => `${k} ${typeof v === 'object' && v !== null ? `(${cell(v)})` : String(v)}`)
        .join(', ')
    : String(value);

/** The generated part of docs/benchmarks.md: the machine, then one table row per figure. */
export function resultsMarkdown(run: BenchRun): string {
  const { machine } = run;
  const lines = [
    `Measured ${machine.date.slice(0, 10)} with \`${run.command}\` on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}.`,
    '',
    '| scenario | model | figure | value | target |',
    '|---|---|---|---:|---|',
  ];
  for (const result of run.scenarios) {
    const model = result.standIn ? `${result.model} (stand-in)` : result.model;
    for (const [name, value] of Object.entries(result.figures)) {
      const target = result.targets?.find((t) => t.figure === name);
      lines.push(
        `| ${result.scenario} | ${model} | ${name} | ${cell(value)} | ${target ? `${target.target} — ${target.met ? 'met' : '**not met**'}` : ''} |`,
      );
    }
  }
  lines.push('', 'Stand-ins:', ...[...new Set(run.scenarios.filter((r) => r.standIn).map((r) => `- ${r.model}: ${r.standIn}`))]);
  return lines.join('\n');
}

/** Replaces the generated block of docs/benchmarks.md, keeping the prose around it. */
export function writeBenchmarksDoc(root: string, run: BenchRun): string {
  const file = join(root, 'docs', 'benchmarks.md');
  const block = `${START}\n${resultsMarkdown(run)}\n${END}`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : `# Benchmarks\n\n${START}\n${END}\n`;
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  const next =
    start >= 0 && end > start ? current.slice(0, start) + block + current.slice(end + END.length) : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
  return file;
}
