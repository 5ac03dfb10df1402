import { z } from 'zod';
import { databaseEnv, envKeys, loadConfig } from '@fathom/config';

/** What `npm run keys` reads: the database the API uses (it talks to it directly, so the first key can exist before the API starts). */
export const keysCliEnvSchema = databaseEnv;
export type KeysCliConfig = z.infer<typeof keysCliEnvSchema>;
export const KEYS_CLI_ENV_KEYS = envKeys(keysCliEnvSchema);

export function loadKeysCliConfig(env: NodeJS.ProcessEnv = process.env): KeysCliConfig {
  return loadConfig('keys', keysCliEnvSchema, env);
}
