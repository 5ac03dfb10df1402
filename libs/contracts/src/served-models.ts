import { z } from 'zod';
import { taskNameSchema } from './tasks';
import { executionProviderSchema } from './job-result';
import { aliasNameSchema } from './rollout';
import { deploymentStateSchema, workerDeploymentReportSchema } from './deployments';
import { depthOutputKindSchema, promotionGateSchema } from './evaluations';

/**
 * A model's prediction-log settings (the manifest's `predictions`, issue 15): `retentionDays`, how
 * long its rows are kept (API_PREDICTION_RETENTION_DAYS when unset).
 */
export const predictionLogSettingsSchema = z.object({ retentionDays: z.number().int().min(1).max(36_500) });
export type PredictionLogSettings = z.infer<typeof predictionLogSettingsSchema>;

/** A model version (or one of its variants) as a worker knows it from its manifest. */
export const knownModelSchema = z.object({
  name: z.string(),
  version: z.string(),
  /** A named fine-tune of this version, with its own weights. */
  variant: z.string().optional(),
  task: taskNameSchema,
  queue: z.string(),
  description: z.string().optional(),
  /** Task options a job gets when the client does not set them. */
  defaults: z.record(z.string(), z.unknown()).optional(),
  /** From the manifest's `evaluation`: a depth model's output kind and the promotion gate (issue 14). */
  evaluation: z.object({ depth: depthOutputKindSchema.optional(), gate: promotionGateSchema.optional() }).optional(),
  /** From the manifest's `predictions`: how long the model's prediction-log rows are kept (issue 15). */
  predictions: predictionLogSettingsSchema.optional(),
  input: z.object({ name: z.string(), description: z.string() }),
});
export type KnownModel = z.infer<typeof knownModelSchema>;

/** What a worker announces it serves (written to Redis with its heartbeat): loaded and warmed up. */
export const servedModelSchema = knownModelSchema.extend({
  executionProvider: executionProviderSchema,
  loadMs: z.number().optional(),
  warmupMs: z.number().optional(),
});
export type ServedModel = z.infer<typeof servedModelSchema>;

export const workerHeartbeatSchema = z.object({
  workerId: z.string(),
  host: z.string(),
  pid: z.number().int(),
  startedAt: z.number().int(),
  models: z.array(servedModelSchema),
  /** WORKER_LABELS: what deployment selectors match (absent from workers before deployments). */
  labels: z.record(z.string(), z.string()).optional(),
  /** What this worker did with each registered deployment its labels match (ADR 0015). */
  deployments: z.array(workerDeploymentReportSchema).optional(),
});
export type WorkerHeartbeat = z.infer<typeof workerHeartbeatSchema>;

/** GET /v1/models: one entry per model, its versions with how many live workers serve each. */
export const modelListingSchema = z.object({
  name: z.string(),
  task: taskNameSchema,
  description: z.string().optional(),
  /** Where `model=<name>` and `<name>@stable|canary` go now. */
  aliases: z.object({ stable: z.string().nullable(), canary: z.string().nullable() }),
  /** Share of `model=<name>` submissions each alias receives, in percent. */
  traffic: z.object({ stable: z.number(), canary: z.number() }),
  versions: z.array(
    z.object({
      version: z.string(),
      /** Its deployment's state in the registry (ADR 0015); null when the registry holds no row for it. */
      state: deploymentStateSchema.nullable(),
      workers: z.number().int(),
      aliases: z.array(aliasNameSchema),
      executionProviders: z.array(executionProviderSchema),
      variants: z.array(z.object({ name: z.string(), description: z.string().optional(), workers: z.number().int() })),
    }),
  ),
  /** JSON Schema of the task options (`options` form field). */
  options: z.record(z.string(), z.unknown()),
  defaults: z.record(z.string(), z.unknown()).optional(),
});
export type ModelListing = z.infer<typeof modelListingSchema>;
