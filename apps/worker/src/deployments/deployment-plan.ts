import { LOADED_DEPLOYMENT_STATES, modelKey, selectorMatches, type DesiredDeployment } from '@fathom/contracts';

/**
 * Bytes a session is expected to take per byte of weights, on each inference thread: onnxruntime
 * holds the initializers (the weights, once), what its optimiser pre-packs, and the arena its runs
 * grow for activations. A rough rule for models whose weights dominate; one with small weights and
 * large activations takes more: DeepLabV3 MobileNetV2 (2.7 MB of weights, 257×257 activations)
 * added ~30 MB of RSS loaded on one thread (bench/deployment-memory.ts).
 */
export const SESSION_BYTES_PER_WEIGHTS_BYTE = 4;

/** What this worker should hold for its labels and budget, from the mirror's entries. */
export interface DeploymentPlan {
  /** Deployments to load (or keep), in creation order. */
  load: DesiredDeployment[];
  /** Deployments whose selector matches but that do not fit the memory budget, each with why. */
  skipped: Array<{ deployment: DesiredDeployment; reason: string }>;
  /**
   * name@version of local models (MODELS_DIR, built-ins) this worker must not serve: retired or
   * failed in the registry (a tombstone), or replaced by a registered deployment of the same name@version.
   */
  blockedLocal: Set<string>;
}

export interface PlanOptions {
  /** WORKER_LABELS. */
  labels: Readonly<Record<string, string>>;
  /** WORKER_MEMORY_BUDGET_MB in bytes; 0: no budget. */
  budgetBytes: number;
  /** WORKER_INFERENCE_THREADS: each holds its own session of every model. */
  threads: number;
  /** Deployment id + fingerprint of the ones that failed here: not tried again until they change. */
  failed?: (deployment: DesiredDeployment) => boolean;
}

/** The memory a deployment is expected to take on this worker: its weights (base and variants) × threads × SESSION_BYTES_PER_WEIGHTS_BYTE. */
export function deploymentMemoryBytes(deployment: Pick<DesiredDeployment, 'weights'>, threads: number): number {
  const weights = Object.values(deployment.weights).reduce((sum, w) => sum + w.bytes, 0);
  return weights * threads * SESSION_BYTES_PER_WEIGHTS_BYTE;
}

/**
 * What this worker loads: the registered deployments (source upload or url) in a loaded state
 * (warming, serving, retiring) whose selector its labels match, in creation order (by id: the API's
 * ids sort by creation), as long as the memory budget allows; the rest that match are skipped with
 * the numbers. A failed one is left out until it changes.
 */
export function planDeployments(entries: readonly DesiredDeployment[], options: PlanOptions): DeploymentPlan {
  const plan: DeploymentPlan = { load: [], skipped: [], blockedLocal: new Set() };
  for (const entry of entries) {
    const key = modelKey(entry.name, entry.version);
    if (entry.source === 'local' ? entry.state === 'retired' || entry.state === 'failed' : LOADED_DEPLOYMENT_STATES.includes(entry.state))
      plan.blockedLocal.add(key);
  }
  const candidates = entries
    .filter((e) => e.source !== 'local' && LOADED_DEPLOYMENT_STATES.includes(e.state) && selectorMatches(e.selector, options.labels))
    .filter((e) => !options.failed?.(e))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  let used = 0;
  for (const deployment of candidates) {
    const needs = deploymentMemoryBytes(deployment, options.threads);
    if (options.budgetBytes > 0 && used + needs > options.budgetBytes) {
      plan.skipped.push({ deployment, reason: budgetReason(deployment, needs, used, options) });
      continue;
    }
    used += needs;
    plan.load.push(deployment);
  }
  return plan;
}

const MB = 1024 * 1024;
const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;

function budgetReason(deployment: DesiredDeployment, needs: number, used: number, options: PlanOptions): string {
  const weights = Object.values(deployment.weights).reduce((sum, w) => sum + w.bytes, 0);
  return (
    `needs about ${mb(needs)} (${mb(weights)} of weights × ${options.threads} inference thread(s) × ${SESSION_BYTES_PER_WEIGHTS_BYTE}), ` +
    `but only ${mb(Math.max(0, options.budgetBytes - used))} of WORKER_MEMORY_BUDGET_MB=${options.budgetBytes / MB} is left ` +
    `(${mb(used)} taken by deployments created before it)`
  );
}

/** What a loaded deployment depends on: a change here (manifest, weights) reloads it; a change of state or selector does not. */
export function deploymentFingerprint(deployment: Pick<DesiredDeployment, 'manifest' | 'weights'>): string {
  return JSON.stringify([deployment.manifest, deployment.weights]);
}
