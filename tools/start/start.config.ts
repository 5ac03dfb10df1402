import { z } from 'zod';
import { envBool, envInt, envKeys, loadConfig, modelCatalogEnv, optionalRedisUrlEnv } from '@fathom/config';

/**
 * What `npm start` itself reads; it hands its environment on to the API and the worker, which
 * check the rest. REDIS_URL unset: it starts a private redis-server.
 */
export const startEnvSchema = optionalRedisUrlEnv.extend(modelCatalogEnv.shape).extend({
  /** The API's port, where the launcher waits for /readyz and which it prints. */
  PORT: envInt(8080, { max: 65535 }),
  /** Download missing downloadable models (newest version of each) before starting. */
  MODELS_PULL_ON_START: envBool(true),
});
export type StartConfig = z.infer<typeof startEnvSchema>;
export const START_ENV_KEYS = envKeys(startEnvSchema);

export function loadStartConfig(env: NodeJS.ProcessEnv = process.env): StartConfig {
  return loadConfig('fathom', startEnvSchema, env);
}
