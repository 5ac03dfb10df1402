import { z } from 'zod';

/**
 * A model's rollout: which version each alias points at and how `model=<name>` traffic is split
 * between them. Kept in Redis and read on every submission, so a change takes effect at once on
 * every API instance; workers never need to know (jobs go to per-version queues).
 */
export const rolloutStateSchema = z.object({
  aliases: z.object({ stable: z.string().optional(), canary: z.string().optional() }),
  /** Relative weights of stable and canary for unpinned submissions. */
  weights: z.object({ stable: z.number().int().min(0), canary: z.number().int().min(0) }),
  /** Earlier stable versions, newest last: what rollback returns to. */
  history: z.array(z.string()),
});
export type RolloutState = z.infer<typeof rolloutStateSchema>;

/** A model's rollout until an operator changes it: stable is the newest release, no canary. */
export const DEFAULT_ROLLOUT: RolloutState = { aliases: {}, weights: { stable: 100, canary: 0 }, history: [] };

/** The aliases a model's versions can be reached by. */
export const aliasNameSchema = z.enum(['stable', 'canary']);
export type AliasName = z.infer<typeof aliasNameSchema>;

/** How a job's model version was chosen: through an alias (stable, canary) or pinned by the client. */
export const modelRouteSchema = z.enum([...aliasNameSchema.options, 'pinned']);
export type ModelRoute = z.infer<typeof modelRouteSchema>;

export const rolloutActionSchema = z.enum(['set-alias', 'remove-alias', 'set-weights', 'promote', 'rollback']);

/** One line of a model's rollout log: who changed what, when. */
export const rolloutChangeSchema = z.object({
  at: z.string(),
  keyId: z.string(),
  action: rolloutActionSchema,
  before: rolloutStateSchema,
  after: rolloutStateSchema,
  /** Why a promotion was forced past its gate (issue 14). */
  reason: z.string().optional(),
  /** The promotion gate's figures when one was passed: canary against stable on its dataset. */
  gate: z
    .object({
      dataset: z.string(),
      metric: z.string(),
      margin: z.number(),
      stable: z.number(),
      canary: z.number(),
      ci95: z.tuple([z.number(), z.number()]),
      pairs: z.number().int(),
      evaluations: z.array(z.string()),
    })
    .optional(),
});
export type RolloutChange = z.infer<typeof rolloutChangeSchema>;

export const setAliasBodySchema = z.object({ version: z.string().min(1) }).strict();
export const setWeightsBodySchema = z
  .object({ stable: z.number().int().min(0).max(100), canary: z.number().int().min(0).max(100) })
  .strict()
  .refine((w) => w.stable + w.canary === 100, { message: 'stable + canary must add up to 100' });
