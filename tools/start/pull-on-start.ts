import { compareVersions, loadCatalog, missingWeights, specKey, type ModelSpec } from '@fathom/models';
import { pullModels } from '../models/models-commands';

/**
 * At start, fetch the newest version of each downloadable model that is not on disk yet (Depth
 * Anything V2 Small on a first run), when the network allows. Older versions and the rest stay
 * one `npm run models -- pull` away. A failure is reported and the service starts without it.
 */
export async function pullMissingModels(
  opts: { builtin: boolean; modelsDir?: string; cacheDir: string },
  log: (line: string) => void,
): Promise<void> {
  let catalog: ModelSpec[];
  try {
    catalog = loadCatalog(opts);
  } catch {
    return; // a bad manifest: the worker stops with the message that names it
  }
  const missing = newestDownloadable(catalog).filter((spec) => missingWeights(spec) !== null);
  if (missing.length === 0) return;
  log(`fathom: downloading ${missing.map(specKey).join(', ')} (not on disk yet; MODELS_PULL_ON_START=false skips this)`);
  const say = (line: string) => log(`fathom: ${line}`);
  const code = await pullModels({ catalog: missing, out: say, err: say }, { all: true });
  if (code !== 0) log('fathom: starting without what could not be downloaded.');
}

/** Per model, the specs (base and variants) of its newest version that has a URL source. */
function newestDownloadable(catalog: ModelSpec[]): ModelSpec[] {
  const downloadable = catalog.filter((s) => s.source.kind === 'url');
  const newest = new Map<string, string>();
  for (const spec of downloadable) {
    const current = newest.get(spec.name);
    if (current === undefined || compareVersions(spec.version, current) > 0) newest.set(spec.name, spec.version);
  }
  return downloadable.filter((s) => newest.get(s.name) === s.version);
}
