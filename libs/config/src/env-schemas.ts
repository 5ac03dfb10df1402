import { z } from 'zod';
import { DEFAULT_KEY_PREFIX } from '@fathom/contracts';

/** Empty strings in the environment mean "not set". */
const unsetIfEmpty = (value: unknown) => (value === '' ? undefined : value);

export const envInt = (defaultValue: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) =>
  z.preprocess(unsetIfEmpty, z.coerce.number().int().min(min).max(max).default(defaultValue));

export const envString = (defaultValue: string) => z.preprocess(unsetIfEmpty, z.string().default(defaultValue));

export const envBool = (defaultValue: boolean) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(defaultValue ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  );

/** Variables every process shares. */
export const commonEnvSchema = z.object({
  REDIS_URL: z.preprocess(unsetIfEmpty, z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' })),
  REDIS_PREFIX: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(/^[a-zA-Z0-9_-]+$/)
      .default(DEFAULT_KEY_PREFIX),
  ),
  /** How long inputs, results and job records are kept (default 24 h). */
  STORAGE_RETENTION_SECONDS: envInt(86_400, { min: 60 }),
  LOG_LEVEL: z.preprocess(unsetIfEmpty, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')),
});
export type CommonEnv = z.infer<typeof commonEnvSchema>;
