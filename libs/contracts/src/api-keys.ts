import { z } from 'zod';

/**
 * What an API key may do. A wire format (stored with each key, sent by the CLI and clients):
 * adding one is fine, renaming one locks out every key that holds it.
 */
export const SCOPES = ['jobs:write', 'jobs:read', 'models:admin', 'keys:admin'] as const;
export const scopeSchema = z.enum(SCOPES);
export type Scope = z.infer<typeof scopeSchema>;

/** A key's own limits; null fields fall back to the API's defaults (API_KEY_* settings). */
export const keyLimitsSchema = z.object({
  /** Requests per second, over every route the key calls. */
  requestsPerSecond: z.number().int().positive().nullable(),
  /** Jobs queued or running at once. */
  jobsInFlight: z.number().int().positive().nullable(),
});
export type KeyLimits = z.infer<typeof keyLimitsSchema>;
