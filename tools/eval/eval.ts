/**
 * `npm run eval -- <dataset> --model <model>` and `npm run eval -- compare <a> <b> --dataset <d>`:
 * evaluations through the API (issue 14), like any client. A dataset is a name (registered, or
 * built in) or a folder / .tar / .zip, registered first. Prints the table, writes the report.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { parseArgs } from 'node:util';
import { Presets, SingleBar } from 'cli-progress';
import { FINISHED_EVALUATION_STATES, type EvaluationView } from '@fathom/contracts';
import { ConfigError } from '@fathom/config';
import { packFolder } from '@fathom/evaluation';
import { ApiError, EvalClient } from './eval-client';
import { loadEvalCliConfig } from './eval.config';
import { comparisonTable, evaluationTable, formatValue } from './eval-tables';

const USAGE = `Usage: npm run eval -- <command>

Commands:
  <dataset> --model <model> [--variant <v>] [--out <dir>] [--reuse]
                          evaluate a model version on a dataset: every sample runs as a job through
                          the queue (behind user jobs); prints the metrics and latency, writes
                          report.html, samples.jsonl and evaluation.json to --out
                          (default ./evaluations/<id>). <dataset>: a name (GET /v1/datasets lists
                          them, built-ins included) or a folder / .tar / .zip with a dataset.yaml,
                          registered first. <model>: name (stable), name@version or name@alias
  compare <a> <b> --dataset <dataset> [--variant <v>]
                          b against a: paired per-sample differences, bootstrap 95 % intervals and a
                          verdict per metric (each side's latest completed run is reused)
  datasets                list the datasets
  datasets register <folder|.tar|.zip>
                          register a dataset (models:admin)

Environment:
  FATHOM_URL              the API (default http://127.0.0.1:8080)
  FATHOM_API_KEY          an API key with jobs:write and jobs:read (models:admin to register)`;

const USAGE_ERROR = 2;
const POLL_MS = 500;

function usageError(problem: string): number {
  console.error(`eval: ${problem}\n\n${USAGE}`);
  return USAGE_ERROR;
}

/** A dataset argument that is a path is registered (or found registered) and becomes its name@version. */
async function datasetReference(client: EvalClient, argument: string): Promise<string> {
  const path = resolve(argument);
  const found = await stat(path).catch(() => null);
  if (!found) return argument;
  const archive = found.isDirectory() ? await buffer(await packFolder(path)) : await readFile(path);
  const filename = found.isDirectory() ? `${basename(path)}.tar` : basename(path);
  try {
    const dataset = await client.registerDataset(archive, filename);
    console.error(`registered dataset ${dataset.name}@${dataset.version} (${dataset.samples} samples)`);
    return `${dataset.name}@${dataset.version}`;
  } catch (error) {
    const details = (error as ApiError).details as { name?: string; version?: string } | undefined;
    if (error instanceof ApiError && error.code === 'dataset_exists' && details?.name && details.version) {
      console.error(`dataset ${details.name}@${details.version} is registered already: using it`);
      return `${details.name}@${details.version}`;
    }
    throw error;
  }
}

/** Follows a run to its end: a bar on a terminal, a line per tenth otherwise. Ctrl-C cancels the run. */
async function follow(client: EvalClient, started: EvaluationView): Promise<EvaluationView> {
  const tty = process.stderr.isTTY === true;
  const bar = tty
    ? new SingleBar(
        {
          format: `${started.model.reference} on ${started.dataset.name} [{bar}] {value}/{total} samples | {failed} failed | ETA {eta_formatted}`,
          stream: process.stderr,
          hideCursor: true,
        },
        Presets.shades_classic,
      )
    : null;
  bar?.start(started.progress.total, started.progress.done, { failed: started.progress.failed });
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    console.error('\ncancelling the evaluation…');
    void client.cancel(started.id).catch(() => undefined);
  };
  process.once('SIGINT', onSigint);
  let view = started;
  let lastTenth = -1;
  try {
    while (!FINISHED_EVALUATION_STATES.includes(view.state)) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      view = await client.evaluation(started.id);
      bar?.update(view.progress.done, { failed: view.progress.failed });
      const tenth = Math.floor((10 * view.progress.done) / Math.max(1, view.progress.total));
      if (!tty && tenth !== lastTenth) {
        lastTenth = tenth;
        console.error(`${view.progress.done}/${view.progress.total} samples (${view.progress.failed} failed)`);
      }
    }
  } finally {
    bar?.stop();
    process.removeListener('SIGINT', onSigint);
  }
  if (interrupted) console.error('cancelled');
  return view;
}

async function evaluate(
  client: EvalClient,
  dataset: string,
  values: { model?: string; variant?: string; out?: string; reuse?: boolean },
): Promise<number> {
  if (!values.model) return usageError('--model is required: name, name@version or name@alias (see GET /v1/models)');
  const reference = await datasetReference(client, dataset);
  const started = await client.startEvaluation({
    dataset: reference,
    model: values.model,
    ...(values.variant ? { variant: values.variant } : {}),
    reuse: values.reuse === true,
  });
  console.error(
    `evaluation ${started.id}: ${started.progress.total} samples of ${started.dataset.name}@${started.dataset.version} on ${started.model.name}@${started.model.version}`,
  );
  const view = await follow(client, started);
  console.log(evaluationTable(view));
  const out = resolve(values.out ?? join('evaluations', view.id));
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'evaluation.json'), JSON.stringify(view, null, 2));
  await writeFile(join(out, 'samples.jsonl'), await client.samples(view.id));
  if (view.state === 'completed' || view.state === 'cancelled') {
    await writeFile(join(out, 'report.html'), await client.report(view.id).catch(() => '<p>No report was written.</p>'));
  }
  console.log(`\nwritten to ${out}${view.state === 'completed' ? ' (open report.html in a browser)' : ''}`);
  return view.state === 'completed' ? 0 : 1;
}

async function compare(client: EvalClient, a: string, b: string, values: { dataset?: string; variant?: string }): Promise<number> {
  if (!values.dataset) return usageError('--dataset is required for compare');
  const dataset = await datasetReference(client, values.dataset);
  const body = { dataset, a, b, ...(values.variant ? { variant: values.variant } : {}) };
  for (;;) {
    const outcome = await client.compare(body);
    if (outcome.ready) {
      console.log(comparisonTable(outcome.comparison));
      return 0;
    }
    const pending = outcome.evaluations.filter((e) => !FINISHED_EVALUATION_STATES.includes(e.state));
    console.error(`waiting for ${pending.map((e) => `${e.model.reference} (${e.progress.done}/${e.progress.total})`).join(', ')}`);
    const ended = await Promise.all(pending.map((e) => follow(client, e)));
    const stopped = ended.find((e) => e.state !== 'completed');
    if (stopped) {
      console.error(`the evaluation of ${stopped.model.reference} ${stopped.state}${stopped.error ? `: ${stopped.error}` : ''}`);
      return 1;
    }
  }
}

async function datasets(client: EvalClient, operands: string[]): Promise<number> {
  const [sub, path] = operands;
  if (sub === 'register') {
    if (!path) return usageError('datasets register needs a folder, .tar or .zip');
    console.log(await datasetReference(client, path));
    return 0;
  }
  if (sub !== undefined) return usageError(`unknown datasets command "${sub}"`);
  for (const d of await client.datasets())
    console.log(`${`${d.name}@${d.version}`.padEnd(32)} ${d.task.padEnd(15)} ${formatValue(d.samples).padStart(6)} samples  ${d.source}`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        help: { type: 'boolean', short: 'h' },
        model: { type: 'string', short: 'm' },
        variant: { type: 'string' },
        dataset: { type: 'string', short: 'd' },
        out: { type: 'string', short: 'o' },
        reuse: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [command, ...operands] = positionals;
  if (!command) return usageError('name a dataset, or a command');
  const client = new EvalClient(loadEvalCliConfig());
  if (command === 'compare') {
    const [a, b] = operands;
    if (!a || !b) return usageError('compare needs two models: compare depth@stable depth@canary --dataset …');
    return compare(client, a, b, values);
  }
  if (command === 'datasets') return datasets(client, operands);
  if (operands.length) return usageError(`unexpected ${operands.join(' ')}`);
  return evaluate(client, command, values);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) console.error(error.message);
    else if (error instanceof ApiError) console.error(`eval: ${error.code}: ${error.message}`);
    else console.error(`eval: ${(error as Error).message}`);
    process.exit(1);
  },
);
