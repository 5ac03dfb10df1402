import { z } from 'zod';
import { taskNameSchema } from './tasks';
import { executionProviderSchema } from './job-result';

/** What a worker announces it serves (written to Redis with its heartbeat). */
export const servedModelSchema = z.object({
  name: z.string(),
  version: z.string(),
  task: taskNameSchema,
  queue: z.string(),
  executionProvider: executionProviderSchema,
  input: z.object({ name: z.string(), description: z.string() }),
});
export type ServedModel = z.infer<typeof servedModelSchema>;

export const workerHeartbeatSchema = z.object({
  workerId: z.string(),
  host: z.string(),
  pid: z.number().int(),
  startedAt: z.number().int(),
  models: z.array(servedModelSchema),
});
export type WorkerHeartbeat = z.infer<typeof workerHeartbeatSchema>;

/** GET /v1/models entry: one per model version, with how many live workers serve it. */
export const modelListingSchema = z.object({
  name: z.string(),
  version: z.string(),
  task: taskNameSchema,
  workers: z.number().int(),
  executionProviders: z.array(executionProviderSchema),
  options: z.record(z.string(), z.unknown()),
});
export type ModelListing = z.infer<typeof modelListingSchema>;
