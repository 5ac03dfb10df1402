/**
 * Fathom's benchmark: `npm run bench` (full) or `npm run bench -- --quick` (under a minute).
 * Prints one JSON line per scenario, writes every result to reports/bench/results.json and, on a
 * full run, the table in docs/benchmarks.md.
 */
import { repoRoot } from '@fathom/testing';
import { loadBenchImages } from './bench-images';
import { machineInfo } from './bench-machine';
import { writeBenchmarksDoc, writeResultsJson, type BenchRun } from './bench-report';
import { ceilingScenario } from './ceiling.scenario';
import { endToEndScenario } from './end-to-end.scenario';
import type { ScenarioResult } from './scenario';
import { serviceOverheadScenario } from './service-overhead.scenario';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--quick');
  if (unknown.length > 0) throw new Error(`unknown argument(s) ${unknown.join(' ')}; usage: npm run bench [-- --quick]`);
  const quick = args.includes('--quick');
  const ctx = { quick, command: quick ? 'npm run bench -- --quick' : 'npm run bench' };
  const images = await loadBenchImages(quick);
  const scenarios: ScenarioResult[] = [];
  const report = (result: ScenarioResult) => {
    scenarios.push(result);
    console.log(JSON.stringify(result));
  };

  const ceiling = await ceilingScenario(ctx, images);
  report(ceiling);
  report(await serviceOverheadScenario(ctx));
  report(await endToEndScenario(ctx, images, ceiling.figures.imagesPerSecond as number));

  const run: BenchRun = { machine: machineInfo(), command: ctx.command, quick, scenarios };
  const root = repoRoot();
  console.error(`bench: results in ${writeResultsJson(root, run)}`);
  if (!quick) console.error(`bench: table in ${writeBenchmarksDoc(root, run)}`);
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(`bench: ${error.message}`);
    process.exit(1);
  },
);
