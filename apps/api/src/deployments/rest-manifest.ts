import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ErrorCode, FathomError, workerSelectorSchema, type WorkerSelector } from '@fathom/contracts';
import { describeManifestIssues, modelManifestSchema, type ModelManifest } from '@fathom/models';

/** Where one part of a deployment's weights ('' the base, else a variant) comes from. */
export type WeightsPlan =
  | { part: string; kind: 'upload'; field: string; sha256?: string }
  | { part: string; kind: 'url'; url: string; sha256: string; bytes?: number };

/** A manifest registered over REST, checked: what to store and where each weights file comes from. */
export interface RegistrationPlan {
  manifest: ModelManifest;
  weights: WeightsPlan[];
  selector: WorkerSelector;
  replicas: number | null;
}

/** The multipart field a part's upload is expected in when the manifest names none: `weights`, `weights.<variant>`. */
export const uploadField = (part: string): string => (part === '' ? 'weights' : `weights.${part}`);

const sha256Schema = z.string().regex(/^[0-9a-fA-F]{64}$/, '64 hexadecimal digits');
const uploadRefSchema = z.object({ upload: z.string().min(1).max(100), sha256: sha256Schema.optional() }).strict();
const deploymentFieldsSchema = z.object({
  selector: workerSelectorSchema.optional(),
  replicas: z.number().int().min(0).max(1_000).optional(),
});

/** The body of a JSON / YAML request, or the text of the `manifest` form field, as an object. */
export function parseManifestText(text: string, contentType: string): unknown {
  const yaml = /yaml/i.test(contentType);
  try {
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw invalid(`The manifest is not valid ${yaml ? 'YAML' : 'JSON'} (${(error as Error).message.split('\n')[0]}).`);
  }
}

/**
 * Checks a manifest sent to POST /v1/admin/models with libs/models' schema, plus the rules of REST
 * registration: weights are `{ url, sha256 }` or an uploaded form part (`weights` omitted, or
 * `{ upload: <field>, sha256? }`); a server path, an npm module and a labels file are refused with
 * what to send instead. Two deployment fields may sit beside the manifest's: `selector`, `replicas`.
 */
export function planRegistration(raw: unknown): RegistrationPlan {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw invalid('The manifest must be an object (name, version, task, weights, …), in JSON or YAML.');
  const { selector, replicas, ...manifestFields } = raw as Record<string, unknown>;
  const deployment = deploymentFieldsSchema.safeParse({ selector, replicas });
  if (!deployment.success) throw invalid(`Invalid manifest: ${describeManifestIssues(deployment.error)}.`);

  const plans: WeightsPlan[] = [];
  const forSchema: Record<string, unknown> = { ...manifestFields };
  forSchema.weights = placeholderFor('', manifestFields.weights, 'weights', plans);
  const variants = manifestFields.variants;
  if (typeof variants === 'object' && variants !== null && !Array.isArray(variants)) {
    forSchema.variants = Object.fromEntries(
      Object.entries(variants as Record<string, unknown>).map(([name, variant]) => {
        if (typeof variant !== 'object' || variant === null || Array.isArray(variant)) return [name, variant];
        const weights = (variant as Record<string, unknown>).weights;
        return [name, { ...variant, weights: placeholderFor(name, weights, `variants.${name}.weights`, plans) }];
      }),
    );
  }
  const labels = manifestFields.labels;
  if (typeof labels === 'object' && labels !== null && !Array.isArray(labels)) {
    throw invalid(
      'labels: a labels file on the server is not taken over REST; send the class names inline, e.g. labels: [background, cat, dog].',
      'labels',
    );
  }
  if (new Set(plans.map((p) => p.kind)).size > 1)
    // One source per deployment: its state (pulling by this request, or by the puller) has one owner.
    throw invalid(
      'weights: a deployment takes all its weights (base and variants) uploaded, or all by { url, sha256 }, not some of each. Register the variants as their own versions, or give them the same kind of source.',
      'weights',
    );
  const parsed = modelManifestSchema.safeParse(forSchema);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.map(String).join('.');
    throw invalid(`Invalid manifest: ${describeManifestIssues(parsed.error)}.`, field);
  }
  return { manifest: parsed.data, weights: plans, selector: deployment.data.selector ?? {}, replicas: deployment.data.replicas ?? null };
}

/**
 * Records where one part's weights come from and returns what the manifest schema should see in
 * their place (an upload becomes a path no one reads; a URL stays as sent, so the schema checks it).
 */
function placeholderFor(part: string, weights: unknown, field: string, plans: WeightsPlan[]): unknown {
  if (weights === undefined || weights === null) {
    plans.push({ part, kind: 'upload', field: uploadField(part) });
    return { path: uploadField(part) };
  }
  if (typeof weights === 'string' || (typeof weights === 'object' && ('path' in weights || 'npm' in weights))) {
    throw invalid(
      `${field}: a file on the server (path or npm) is not taken over REST. Upload the file in the multipart part "${uploadField(part)}" ` +
        `(and leave ${field} out, or write { upload: "${uploadField(part)}" }), or give { url, sha256 } for Fathom to download.`,
      field,
    );
  }
  if (typeof weights === 'object' && 'upload' in weights) {
    const ref = uploadRefSchema.safeParse(weights);
    if (!ref.success) throw invalid(`Invalid manifest: ${describeManifestIssues(ref.error).replace(/^/, `${field}.`)}.`, field);
    plans.push({ part, kind: 'upload', field: ref.data.upload, ...(ref.data.sha256 ? { sha256: ref.data.sha256.toLowerCase() } : {}) });
    return { path: ref.data.upload };
  }
  const url = weights as { url?: unknown; sha256?: unknown; bytes?: unknown };
  if (typeof url.url === 'string' && typeof url.sha256 === 'string' && /^[0-9a-fA-F]{64}$/.test(url.sha256)) {
    plans.push({
      part,
      kind: 'url',
      url: url.url,
      sha256: url.sha256.toLowerCase(),
      ...(typeof url.bytes === 'number' ? { bytes: url.bytes } : {}),
    });
  }
  // Anything else is the schema's to describe (a URL without sha256, an unknown key).
  return weights;
}

function invalid(message: string, field?: string): FathomError {
  return new FathomError(ErrorCode.InvalidManifest, message, field === undefined ? undefined : { field });
}
