import { compareVersions, downloadWeights, loadCatalog, missingWeights, progressReporter, specKey, type ModelSpec } from '@fathom/models';

/**
 * At start, fetch the newest version of each downloadable model that is not on disk yet (Depth
 * Anything V2 Small on a first run), when the network allows. Older versions and the rest stay
 * one `npm run models -- pull` away. A failure is reported and the service starts without it.
 */
export async function pullMissingModels(opts: { builtin: boolean; modelsDir?: string; cacheDir: string }, log: (line: string) => void): Promise<void> {
  let catalog: ModelSpec[];
  try {
    catalog = loadCatalog(opts);
  } catch {
    return; // a bad manifest: the worker stops with the message that names it
  }
  for (const spec of newestDownloadable(catalog).filter((s) => missingWeights(s) !== null)) {
    if (spec.source.kind !== 'url') continue;
    log(`fathom: downloading ${specKey(spec)} (${spec.source.url}) to ${spec.weights}`);
    const progress = progressReporter(specKey(spec));
    try {
      const done = await downloadWeights({ url: spec.source.url, sha256: spec.source.sha256, bytes: spec.source.bytes, dest: spec.weights, onProgress: (p) => progress.update(p) });
      progress.stop();
      log(`fathom: ${specKey(spec)} downloaded and verified (${(done.bytes / 1e6).toFixed(1)} MB)`);
    } catch (error) {
      progress.stop();
      log(`fathom: ${specKey(spec)} not downloaded (${(error as Error).message}); starting without it.`);
    }
  }
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
