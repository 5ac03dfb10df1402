/**
 * `npm run drift -- reference …` and `npm run drift -- status <model>` (issue 15): set a model
 * version's drift reference — from a folder of images profiled through the API, an evaluation run,
 * or a window of its production log — and read its drift, like any client of the API.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Presets, SingleBar } from 'cli-progress';
import { MAX_REFERENCE_ROWS, MIN_REFERENCE_ROWS, TERMINAL_STATES, type DriftReferenceSource, type JobStatus } from '@fathom/contracts';
import { ConfigError, loadConfig } from '@fathom/config';
import { evalCliEnvSchema } from '../eval/eval.config';
import { ApiError, DriftClient, type ReferenceView } from './drift-client';
import { EXIT_DRIFT, referenceSummary, statusReport } from './drift-tables';

const USAGE = `Usage: npm run drift -- <command>

Commands:
  reference <folder> --model <name@version> [--concurrency N] [--recursive]
                          profile every image in the folder (jpg, png, webp, tiff, gif, avif) as a job
                          of that version (purpose=reference: kept out of its production window), then
                          set the version's reference from them. Needs at least ${MIN_REFERENCE_ROWS} images that decode.
  reference --evaluation <run id> --model <name@version>
                          the reference from an evaluation run's samples
  reference --from <iso time> --to <iso time> --model <name@version>
                          the reference from that window of the version's production log
  reference --first-days <N> --model <name@version>
                          the reference from the version's first N days of production
  status <model>          per version: the production window, each side's score (above 0.2 is drift)
                          and the features that moved most, with their PSI

Exit codes:
  0  done; for status: no version's drift is flagged
  1  an error (the API's code and message are printed)
  2  a usage error
  3  status only: drift is flagged on some version (input or output)

Environment:
  FATHOM_URL              the API (default http://127.0.0.1:8080)
  FATHOM_API_KEY          an API key: models:admin and jobs:write/jobs:read for reference, any key for status`;

const USAGE_ERROR = 2;
const FAILED = 1;
const DEFAULT_CONCURRENCY = 4;
const IMAGE_FILE = /\.(jpe?g|png|webp|tiff?|gif|avif)$/i;
/** Codes that condemn one file, not the run: that file is named and skipped. */
const FILE_ERRORS = new Set(['image_too_large', 'image_too_many_pixels', 'unsupported_image_format', 'image_undecodable']);
/** How long the prediction log may take to hold every profiled job's row (it is written off the job path). */
const LOG_WAIT_MS = 30_000;

function usageError(problem: string): number {
  console.error(`drift: ${problem}\n\n${USAGE}`);
  return USAGE_ERROR;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** name@version, the version spelled out: a reference belongs to one version. */
function parseModel(model: string | undefined): { name: string; version: string } | string {
  if (!model) return '--model is required: name@version (the exact version, e.g. depth@1.0.0)';
  const at = model.lastIndexOf('@');
  if (at <= 0 || at === model.length - 1) return `--model ${model}: give name@version (the exact version, e.g. ${model}@1.0.0)`;
  return { name: model.slice(0, at), version: model.slice(at + 1) };
}

async function filesIn(folder: string, recursive: boolean): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

interface Skipped {
  file: string;
  reason: string;
}

/** Submits `files` with `concurrency` in flight, each followed to its end; a bar on a terminal. */
async function profile(
  client: DriftClient,
  model: string,
  folder: string,
  files: string[],
  concurrency: number,
): Promise<{ ids: string[]; skipped: Skipped[] }> {
  const tty = process.stderr.isTTY === true;
  const bar = tty
    ? new SingleBar(
        {
          format: `profiling for ${model} [{bar}] {value}/{total} images | {failed} skipped | ETA {eta_formatted}`,
          stream: process.stderr,
          hideCursor: true,
        },
        Presets.shades_classic,
      )
    : null;
  const ids: string[] = [];
  const skipped: Skipped[] = [];
  let done = 0;
  let lastTenth = -1;
  const tick = () => {
    done++;
    bar?.update(done, { failed: skipped.length });
    const tenth = Math.floor((10 * done) / files.length);
    if (!tty && tenth !== lastTenth) {
      lastTenth = tenth;
      console.error(`${done}/${files.length} images (${skipped.length} skipped)`);
    }
  };
  bar?.start(files.length, 0, { failed: 0 });
  let next = 0;
  const slot = async () => {
    while (next < files.length) {
      const file = files[next++]!;
      const name = relative(folder, file);
      try {
        const accepted = await client.submitReferenceImage(model, await readFile(file), name);
        const status = await jobEnd(client, accepted.id);
        if (status.state === 'completed') ids.push(status.id);
        else skipped.push({ file: name, reason: status.error ? `${status.error.code}: ${status.error.message}` : status.state });
      } catch (error) {
        if (!(error instanceof ApiError && FILE_ERRORS.has(error.code))) throw error;
        skipped.push({ file: name, reason: `${error.code}: ${error.message}` });
      }
      tick();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, slot));
  } finally {
    bar?.stop();
  }
  return { ids, skipped };
}

/** Polls a job until it ends: quickly at first (a small model answers in milliseconds), then every half second. */
async function jobEnd(client: DriftClient, id: string): Promise<JobStatus> {
  for (let wait = 50; ; wait = Math.min(500, wait * 2)) {
    await sleep(wait);
    const status = await client.job(id);
    if (TERMINAL_STATES.includes(status.state)) return status;
  }
}

/**
 * PUT the reference from the profiled jobs. Their rows reach the prediction log a moment after
 * the jobs end, so a reference short of them is set again until it holds them all (or LOG_WAIT_MS).
 */
async function setFromJobs(client: DriftClient, name: string, version: string, ids: string[]): Promise<ReferenceView> {
  const deadline = Date.now() + LOG_WAIT_MS;
  for (;;) {
    try {
      const set = await client.setReference(name, version, { jobs: ids });
      if (set.rows >= ids.length || Date.now() > deadline) return set;
    } catch (error) {
      const rows = (error as ApiError).details as { rows?: number } | undefined;
      const logging = error instanceof ApiError && error.code === 'reference_too_small' && (rows?.rows ?? 0) < ids.length;
      if (!logging || Date.now() > deadline) throw error;
    }
    await sleep(500);
  }
}

async function referenceFromFolder(
  client: DriftClient,
  folder: string,
  target: { name: string; version: string },
  values: { concurrency?: string; recursive?: boolean },
): Promise<number> {
  const concurrency = values.concurrency === undefined ? DEFAULT_CONCURRENCY : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) return usageError(`--concurrency ${values.concurrency}: give a whole number ≥ 1`);
  const root = resolve(folder);
  let all: string[];
  try {
    all = await filesIn(root, values.recursive === true);
  } catch (error) {
    console.error(`drift: cannot read the folder ${folder}: ${(error as Error).message}`);
    return FAILED;
  }
  const images = all.filter((f) => IMAGE_FILE.test(f));
  const others = all.filter((f) => !IMAGE_FILE.test(f));
  for (const file of others) console.error(`skipped ${relative(root, file)}: not an image by its name (jpg, png, webp, tiff, gif, avif)`);
  if (images.length < MIN_REFERENCE_ROWS) {
    console.error(
      `drift: ${folder} holds ${images.length} images${values.recursive ? '' : ' (add --recursive to include subfolders)'}; a reference needs at least ${MIN_REFERENCE_ROWS}: add images of the data ${target.name}@${target.version} was built for.`,
    );
    return FAILED;
  }
  const model = `${target.name}@${target.version}`;
  // A reference holds MAX_REFERENCE_ROWS at most: a larger folder is sampled evenly (every k-th file, in name order).
  const chosen = images.length > MAX_REFERENCE_ROWS ? everyKth(images, MAX_REFERENCE_ROWS) : images;
  if (chosen.length < images.length)
    console.error(
      `${images.length} images: profiling ${chosen.length} of them, evenly spread (a reference holds ${MAX_REFERENCE_ROWS} at most)`,
    );
  console.error(`profiling ${chosen.length} images from ${folder} with ${model} (${concurrency} at a time)`);
  const { ids, skipped } = await profile(client, model, root, chosen, concurrency);
  for (const { file, reason } of skipped) console.error(`skipped ${file}: ${reason}`);
  console.error(`${ids.length} of ${chosen.length} images profiled${skipped.length ? `, ${skipped.length} skipped` : ''}`);
  if (ids.length < MIN_REFERENCE_ROWS) {
    console.error(
      `drift: only ${ids.length} images were profiled; a reference needs at least ${MIN_REFERENCE_ROWS}: the reference was not set.`,
    );
    return FAILED;
  }
  const set = await setFromJobs(client, target.name, target.version, ids);
  if (set.rows < ids.length)
    console.error(`note: ${ids.length - set.rows} profiled jobs had not reached the prediction log; the reference holds ${set.rows}`);
  console.log(referenceSummary(await client.reference(target.name, target.version), model));
  return 0;
}

async function reference(
  client: DriftClient,
  operands: string[],
  values: {
    model?: string;
    evaluation?: string;
    from?: string;
    to?: string;
    'first-days'?: string;
    concurrency?: string;
    recursive?: boolean;
  },
): Promise<number> {
  const target = parseModel(values.model);
  if (typeof target === 'string') return usageError(target);
  const [folder, ...extra] = operands;
  if (extra.length) return usageError(`unexpected ${extra.join(' ')}`);
  const sources = [
    folder !== undefined,
    values.evaluation !== undefined,
    values.from !== undefined || values.to !== undefined,
    values['first-days'] !== undefined,
  ];
  if (sources.filter(Boolean).length !== 1)
    return usageError('give exactly one source: a folder, --evaluation <id>, --from/--to or --first-days');
  if (folder !== undefined) return referenceFromFolder(client, folder, target, values);
  let source: DriftReferenceSource;
  if (values.evaluation !== undefined) source = { evaluation: values.evaluation };
  else if (values['first-days'] !== undefined) {
    const days = Number(values['first-days']);
    if (!(days > 0)) return usageError(`--first-days ${values['first-days']}: give a number of days > 0`);
    source = { firstDays: days };
  } else {
    if (!values.from || !values.to)
      return usageError('--from and --to go together: ISO 8601 times, e.g. --from 2026-01-01T00:00:00Z --to 2026-01-08T00:00:00Z');
    source = { from: values.from, to: values.to };
  }
  await client.setReference(target.name, target.version, source);
  console.log(referenceSummary(await client.reference(target.name, target.version), `${target.name}@${target.version}`));
  return 0;
}

async function status(client: DriftClient, operands: string[]): Promise<number> {
  const [model, ...extra] = operands;
  if (!model) return usageError('status needs a model name');
  if (extra.length) return usageError(`unexpected ${extra.join(' ')}`);
  const { text, code } = statusReport(await client.drift(model));
  console.log(text);
  if (code === EXIT_DRIFT) console.error('drift is flagged');
  return code;
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        help: { type: 'boolean', short: 'h' },
        model: { type: 'string', short: 'm' },
        concurrency: { type: 'string', short: 'c' },
        recursive: { type: 'boolean', short: 'r' },
        evaluation: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        'first-days': { type: 'string' },
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
  if (command !== 'reference' && command !== 'status') return usageError(command ? `unknown command "${command}"` : 'name a command');
  const client = new DriftClient(loadConfig('drift', evalCliEnvSchema, process.env));
  return command === 'reference' ? reference(client, operands, values) : status(client, operands);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) console.error(error.message);
    else if (error instanceof ApiError) console.error(`drift: ${error.code}: ${error.message}`);
    else console.error(`drift: ${(error as Error).message}`);
    process.exit(FAILED);
  },
);

/** `count` of `items`, evenly spread: every k-th for a fractional k. */
function everyKth<T>(items: readonly T[], count: number): T[] {
  return Array.from({ length: count }, (_, i) => items[Math.floor((i * items.length) / count)]!);
}
