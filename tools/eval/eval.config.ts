import { z } from 'zod';
import { envKeys, loadConfig } from '@fathom/config';

/** What `npm run eval` reads: where the API is and the key to call it with. */
export const evalCliEnvSchema = z.object({
  /** The API's base URL. */
  FATHOM_URL: z.url({ protocol: /^https?$/, error: 'an http(s) URL such as http://127.0.0.1:8080' }).default('http://127.0.0.1:8080'),
  /** An API key with jobs:write and jobs:read (models:admin to register a dataset); none with API_AUTH=none. */
  FATHOM_API_KEY: z.string().min(1).optional(),
});
export type EvalCliConfig = z.infer<typeof evalCliEnvSchema>;
export const EVAL_CLI_ENV_KEYS = envKeys(evalCliEnvSchema);

export function loadEvalCliConfig(env: NodeJS.ProcessEnv = process.env): EvalCliConfig {
  return loadConfig('eval', evalCliEnvSchema, env);
}
