import { z } from 'zod';
import { envKeys, loadConfig, modelCatalogEnv } from '@fathom/config';

/** What `npm run models` reads: the catalog's folders. */
export const modelsCliEnvSchema = modelCatalogEnv;
export type ModelsCliConfig = z.infer<typeof modelsCliEnvSchema>;
export const MODELS_CLI_ENV_KEYS = envKeys(modelsCliEnvSchema);

export function loadModelsCliConfig(env: NodeJS.ProcessEnv = process.env): ModelsCliConfig {
  return loadConfig('models', modelsCliEnvSchema, env);
}
