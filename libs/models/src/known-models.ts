import { inferenceQueueName, type KnownModel } from '@fathom/contracts';
import { describeManifestIssues, modelManifestSchema } from './manifest.schema';
import { specsFromManifest } from './model-catalog';
import type { ModelSpec } from './model-spec';

/** What a worker declares for a spec (GET /v1/models, resolution): the model without its weights. */
export function knownModelOf(spec: ModelSpec): KnownModel {
  return {
    name: spec.name,
    version: spec.version,
    ...(spec.variant ? { variant: spec.variant } : {}),
    task: spec.task,
    queue: inferenceQueueName(spec.name, spec.version, spec.variant),
    description: spec.description,
    defaults: spec.defaults,
    ...(spec.evaluation ? { evaluation: spec.evaluation } : {}),
    ...(spec.predictions ? { predictions: spec.predictions } : {}),
    input: { name: spec.input.name, description: describeInput(spec) },
  };
}

export function describeInput(spec: Pick<ModelSpec, 'input'>): string {
  const r = spec.input.resize;
  const size = r.mode === 'fixed' ? `${r.width}×${r.height}` : `keep aspect, ${r.fit} ${r.target}, multiple of ${r.multiple}`;
  return `${spec.input.layout} float32, ${size}`;
}

/**
 * What a deployment registered over REST declares (its base version and each variant), from the
 * manifest as stored (weights as `{ store: <sha256> }`, labels inline), so the API can resolve it
 * before any worker has declared it, and while none is live (scale to zero). [] for a manifest
 * this version cannot read.
 */
export function knownModelsOfRegisteredManifest(manifest: Record<string, unknown>): KnownModel[] {
  const parsed = parseRegistered(manifest);
  if (!parsed.success) return [];
  const { name, version } = parsed.data;
  return specsFromManifest(parsed.data, { manifestFile: `/registered/${name}@${version}`, cacheDir: '/registered' }).map(knownModelOf);
}

/** Why libs/models' schema refuses a registered manifest (weights as `{ store }`), or null: a PUT must leave one workers can read. */
export function registeredManifestIssues(manifest: Record<string, unknown>): string | null {
  const parsed = parseRegistered(manifest);
  return parsed.success ? null : describeManifestIssues(parsed.error);
}

/** The schema's verdict on a registered manifest, its stored weights standing in as a path no one reads. */
function parseRegistered(manifest: Record<string, unknown>) {
  const placeholder = { path: 'registered.onnx' };
  const variants = manifest.variants as Record<string, Record<string, unknown>> | undefined;
  return modelManifestSchema.safeParse({
    ...manifest,
    weights: placeholder,
    ...(variants ? { variants: Object.fromEntries(Object.entries(variants).map(([n, v]) => [n, { ...v, weights: placeholder }])) } : {}),
  });
}
