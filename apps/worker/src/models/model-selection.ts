import { missingWeights, ModelCatalogError, type ModelSpec } from '@fathom/models';

export interface ModelSelection {
  /** Loaded, warmed up and consumed by this worker. */
  serve: ModelSpec[];
  /** Declared, but their weights are not downloaded yet: announced as known, not served. */
  unavailable: Array<{ spec: ModelSpec; reason: string }>;
}

/**
 * What this worker serves: the catalog filtered by WORKER_MODELS (`name` or `name@version`).
 * A downloadable model that is not pulled yet is skipped with a reason unless WORKER_MODELS names
 * it; a missing local file is a mistake in a manifest and stops start-up.
 */
export function selectModels(catalog: ModelSpec[], only: string[] | undefined): ModelSelection {
  const named = (spec: ModelSpec) => only?.some((token) => token === spec.name || token === `${spec.name}@${spec.version}`) ?? false;
  const unknown = (only ?? []).filter((token) => !catalog.some((spec) => token === spec.name || token === `${spec.name}@${spec.version}`));
  if (unknown.length > 0) {
    const known = [...new Set(catalog.map((s) => s.name))].join(', ') || '(none)';
    throw new ModelCatalogError(`WORKER_MODELS names ${unknown.join(', ')}, not found among: ${known}.`);
  }
  const selection: ModelSelection = { serve: [], unavailable: [] };
  for (const spec of catalog.filter((s) => !only || named(s))) {
    const reason = missingWeights(spec);
    if (!reason) selection.serve.push(spec);
    else if (spec.source.kind === 'url' && !named(spec)) selection.unavailable.push({ spec, reason });
    else throw new ModelCatalogError(reason);
  }
  return selection;
}
