import { z } from 'zod';
import { taskNameSchema } from './tasks';

/**
 * Deployments registered at runtime (issue 13, ADR 0015). A deployment is one model version — a
 * manifest and its weights (and its variants' weights) — registered over REST or found in a
 * worker's MODELS_DIR / the built-ins. The record lives in PostgreSQL (the source of truth); the
 * API mirrors what workers need into Redis (DeploymentMirror in libs/queue) and workers report
 * what they did with each one in their heartbeats.
 *
 *   pending → pulling → warming → serving → retiring → retired
 *                 ↘        ↘
 *                  failed   failed
 *
 * - pending: accepted, nothing done yet (a URL source waits for an API instance to pull it).
 * - pulling: the weights are being fetched from their URL into Fathom's object store.
 * - warming: weights stored and checked (sha256, not an LFS pointer or a web page); workers whose
 *   labels match the selector are loading and warming it up.
 * - serving: at least one worker warmed it up; submissions are accepted from then on, even while no
 *   worker is live (a scaled-to-zero pool wakes on the queued job).
 * - failed: with `reason` — checksum mismatch, not an ONNX file, warm-up error naming the tensor.
 * - retiring: DELETEd; submissions are refused at once (422 model_not_served, "retired") while its
 *   queue drains (or its waiting jobs fail model_retired with ?drain=false).
 * - retired: drained; every worker unloads it. A retired name@version may be registered again.
 */
export const deploymentStateSchema = z.enum(['pending', 'pulling', 'warming', 'serving', 'failed', 'retiring', 'retired']);
export type DeploymentState = z.infer<typeof deploymentStateSchema>;

/** States in which a deployment still holds its name@version (another registration of it is 409). */
export const LIVE_DEPLOYMENT_STATES: readonly DeploymentState[] = ['pending', 'pulling', 'warming', 'serving', 'retiring'];
/** States in which workers whose selector matches should have it loaded (retiring: to drain its queue). */
export const LOADED_DEPLOYMENT_STATES: readonly DeploymentState[] = ['warming', 'serving', 'retiring'];

/** Where a deployment came from. `local`: a manifest in a worker's MODELS_DIR or a built-in, registered when a worker declared it. */
export const deploymentSourceSchema = z.enum(['upload', 'url', 'local']);
export type DeploymentSource = z.infer<typeof deploymentSourceSchema>;

/** Worker labels a deployment asks for (`WORKER_LABELS=gpu=a100,pool=depth`): every pair must match; {} matches every worker. */
export const workerSelectorSchema = z.record(
  z.string().regex(/^[A-Za-z0-9_.-]{1,63}$/, 'a label name: letters, digits, _ . -'),
  z.string().regex(/^[A-Za-z0-9_.-]{0,63}$/, 'a label value: letters, digits, _ . -'),
);
export type WorkerSelector = z.infer<typeof workerSelectorSchema>;

/** Whether a worker with `labels` is one `selector` asks for. */
export function selectorMatches(selector: WorkerSelector, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([name, value]) => labels[name] === value);
}

/** Weights held in Fathom's object store, content-addressed: the same file is stored once. */
export const storedWeightsSchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
});
export type StoredWeights = z.infer<typeof storedWeightsSchema>;

/** What `PUT /v1/admin/models/:name/:version` may change; everything else makes a new version. */
export const deploymentMutableSchema = z
  .object({
    description: z.string().max(2_000).optional(),
    /** Task options a job gets when the client sets none (checked against the task's schema). */
    defaults: z.record(z.string(), z.unknown()).optional(),
    batching: z
      .object({ maxBatch: z.number().int().min(1).max(256), maxDelayMs: z.number().int().min(0).max(10_000).optional() })
      .strict()
      .optional(),
    selector: workerSelectorSchema.optional(),
    /** How many workers the operator wants serving it (informational for autoscalers; shown against the count serving). */
    replicas: z.number().int().min(0).max(1_000).optional(),
  })
  .strict();
export type DeploymentMutable = z.infer<typeof deploymentMutableSchema>;

/** What one worker did with one deployment, from its heartbeat. */
export const workerDeploymentStateSchema = z.enum(['pulling', 'warming', 'serving', 'failed', 'skipped']);
export const workerDeploymentReportSchema = z.object({
  deploymentId: z.string(),
  state: workerDeploymentStateSchema,
  /** failed: the exact reason; skipped: why this worker does not load it (memory budget). */
  reason: z.string().optional(),
  /** When it entered this state (epoch ms). */
  since: z.number().int(),
});
export type WorkerDeploymentReport = z.infer<typeof workerDeploymentReportSchema>;

/**
 * What workers read from the Redis mirror for each deployment they may load (the API writes it
 * from PostgreSQL): enough to build the ModelSpecs without the database.
 */
export const desiredDeploymentSchema = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  task: taskNameSchema,
  state: deploymentStateSchema,
  /**
   * upload / url: workers load it from the object store. local: a manifest workers have on disk —
   * here only so that a retired one is not served again (state retired) and a retiring one drains.
   */
  source: deploymentSourceSchema,
  /**
   * The manifest as registered, checked by libs/models' schema, with labels inlined and each
   * `weights` (base and variants) replaced by `{ store: <sha256> }`.
   */
  manifest: z.record(z.string(), z.unknown()),
  /** The stored weights of the base version ('') and of each variant (by name). */
  weights: z.record(z.string(), storedWeightsSchema),
  selector: workerSelectorSchema,
  /** When it was registered (epoch ms): workers load in this order while their memory budget lasts. */
  createdAt: z.number().int(),
  /** Bumped on every change; a worker reloads a deployment whose revision moved past the one it loaded. */
  revision: z.number().int(),
});
export type DesiredDeployment = z.infer<typeof desiredDeploymentSchema>;

/** GET /v1/admin/models/:name — one deployment as the API shows it. */
export const deploymentViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  task: taskNameSchema,
  state: deploymentStateSchema,
  reason: z.string().nullable(),
  source: deploymentSourceSchema,
  weights: z.record(z.string(), storedWeightsSchema.extend({ url: z.string().optional() })),
  description: z.string().nullable(),
  defaults: z.record(z.string(), z.unknown()).nullable(),
  batching: z.object({ maxBatch: z.number().int(), maxDelayMs: z.number().int() }).nullable(),
  selector: workerSelectorSchema,
  replicas: z.number().int().nullable(),
  /** Live workers' reports on it, by worker id. */
  workers: z.array(workerDeploymentReportSchema.omit({ deploymentId: true }).extend({ workerId: z.string() })),
  createdAt: z.string(),
  createdBy: z.string(),
  updatedAt: z.string(),
  links: z.object({ self: z.string(), events: z.string().optional() }),
});
export type DeploymentView = z.infer<typeof deploymentViewSchema>;

/** socket.io namespace for deployment progress (admin keys only). */
export const DEPLOYMENTS_NAMESPACE = '/deployments';
export const DeploymentWsEvent = {
  Subscribe: 'subscribe',
  /** Server → client: the deployment's view after every change of state or workers. */
  State: 'deployment.state',
} as const;
