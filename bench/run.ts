/**
 * Fathom's benchmark: `npm run bench` (full) or `npm run bench -- --quick` (about a minute).
 * Prints one JSON line per scenario, writes every result to reports/bench/results.json and, on a
 * full run, the table in docs/benchmarks.md.
 */
import { repoRoot } from '@fathom/testing';
import { batchingScenario } from './batching.scenario';
import { loadBenchImages, type BenchImageSet } from './bench-images';
import { machineInfo } from './bench-machine';
import { writeBenchmarksDoc, writeResultsJson, type BenchRun } from './bench-report';
import { capacityScenario } from './capacity.scenario';
import { ceilingScenario } from './ceiling.scenario';
import { driftScenario } from './drift.scenario';
import { endToEndScenario } from './end-to-end.scenario';
import { horizontalScalingScenario } from './horizontal-scaling.scenario';
import { memoryScenario } from './memory.scenario';
import { peerExpressScenario } from './peer-express.scenario';
import { recoveryScenario } from './recovery.scenario';
import { scalingScenario } from './scaling.scenario';
import type { BenchContext, ScenarioResult } from './scenario';
import { serviceOverheadScenario } from './service-overhead.scenario';
import { soakScenario } from './soak.scenario';
import { transformersDepthScenario } from './transformers-depth.scenario';
import { uploadsScenario } from './uploads.scenario';

/** Every scenario, in the order a full run takes them; `--only a,b` picks some (end-to-end needs the ceiling). */
const SCENARIOS: Array<{
  name: ScenarioResult['scenario'];
  run: (ctx: BenchContext, images: BenchImageSet, done: ScenarioResult[]) => Promise<ScenarioResult>;
  /** Too long for a quick run, for this reason: run in full runs, or named with --only (--quick then shortens it). */
  fullRunsOnly?: string;
}> = [
  { name: 'ceiling', run: (ctx, images) => ceilingScenario(ctx, images) },
  { name: 'service-overhead', run: (ctx) => serviceOverheadScenario(ctx) },
  {
    name: 'end-to-end',
    run: async (ctx, images, done) => {
      const ceiling = done.find((r) => r.scenario === 'ceiling') ?? (await ceilingScenario(ctx, images));
      return endToEndScenario(ctx, images, ceiling.figures.imagesPerSecond as number);
    },
  },
  { name: 'batching', run: (ctx, images) => batchingScenario(ctx, images) },
  { name: 'peer-express', run: (ctx, images) => peerExpressScenario(ctx, images) },
  { name: 'transformers-depth', run: (ctx, images) => transformersDepthScenario(ctx, images) },
  { name: 'horizontal-scaling', run: (ctx) => horizontalScalingScenario(ctx) },
  { name: 'memory', run: (ctx) => memoryScenario(ctx) },
  {
    name: 'uploads',
    run: (ctx) => uploadsScenario(ctx),
    fullRunsOnly: 'it sends 60 uploads of 25 MB through each of two stacks (1 round of 20 with --quick)',
  },
  { name: 'scaling', run: (ctx) => scalingScenario(ctx) },
  {
    name: 'capacity',
    run: (ctx) => capacityScenario(ctx),
    fullRunsOnly: 'it runs 2,000 jobs (two windows, a second API) and times PostgreSQL inserts',
  },
  {
    name: 'drift',
    run: (ctx) => driftScenario(ctx),
    fullRunsOnly: 'it sends 2,200 photo crops through the stack (a pool of 600, then 4 shifts of 200 after 200 unshifted each)',
  },
  { name: 'recovery', run: (ctx) => recoveryScenario(ctx), fullRunsOnly: 'its kills wait out real locks' },
  { name: 'soak', run: (ctx) => soakScenario(ctx), fullRunsOnly: 'it runs for minutes: 2,000 jobs, a kill every 10 s' },
];

const USAGE = `usage: npm run bench [-- [--quick] [--only ${SCENARIOS.map((s) => s.name).join(',')}]]`;

function parseArgs(args: string[]): { quick: boolean; only?: Set<string> } {
  let quick = false;
  let only: Set<string> | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--only' && args[i + 1]) only = new Set(args[++i]!.split(','));
    else throw new Error(`unknown argument ${arg}; ${USAGE}`);
  }
  const unknown = [...(only ?? [])].filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length > 0) throw new Error(`no scenario ${unknown.join(', ')}; ${USAGE}`);
  return { quick, only };
}

async function main(): Promise<void> {
  const { quick, only } = parseArgs(process.argv.slice(2));
  const command = [
    'npm run bench',
    ...(quick || only ? ['--'] : []),
    ...(quick ? ['--quick'] : []),
    ...(only ? ['--only', [...only].join(',')] : []),
  ].join(' ');
  const ctx: BenchContext = { quick, command };
  const images = await loadBenchImages(quick);
  const scenarios: ScenarioResult[] = [];
  for (const scenario of SCENARIOS) {
    if (only && !only.has(scenario.name)) continue;
    if (quick && !only && scenario.fullRunsOnly) {
      console.error(`bench: ${scenario.name} skipped in a quick run (${scenario.fullRunsOnly}); run it with --only ${scenario.name}`);
      continue;
    }
    const result = await scenario.run(ctx, images, scenarios);
    scenarios.push(result);
    console.log(JSON.stringify(result));
  }

  const run: BenchRun = { machine: machineInfo(), command: ctx.command, quick, scenarios };
  const root = repoRoot();
  console.error(`bench: results in ${writeResultsJson(root, run)}`);
  // The doc's table is the whole suite's: a partial or quick run does not replace it.
  if (!quick && !only) console.error(`bench: table in ${writeBenchmarksDoc(root, run)}`);
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(`bench: ${error.message}`);
    process.exit(1);
  },
);
