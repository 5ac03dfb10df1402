import { z } from 'zod';
import {
  apiMetricsEnv,
  envBool,
  envInt,
  envKeys,
  envOptionalString,
  envString,
  fathomDataDir,
  loadConfig,
  modelCatalogEnv,
  optionalDatabaseUrlEnv,
  optionalRedisUrlEnv,
} from '@fathom/config';

/** Where the embedded database keeps its files unless START_DATABASE_DIR says otherwise (XDG's data folder). */
export function databaseDir(config: { START_DATABASE_DIR?: string; XDG_DATA_HOME?: string }): string {
  return config.START_DATABASE_DIR ?? fathomDataDir(config.XDG_DATA_HOME, 'database');
}

/**
 * What `npm start` itself reads; it hands its environment on to the API and the worker, which
 * check the rest. REDIS_URL unset: it starts a private redis-server; DATABASE_URL unset: an
 * embedded PostgreSQL whose files stay in START_DATABASE_DIR (keys and records survive restarts).
 */
export const startEnvSchema = optionalRedisUrlEnv
  .extend(optionalDatabaseUrlEnv.shape)
  .extend(modelCatalogEnv.shape)
  // Read to print the API's /metrics address (and to choose the free port for 0).
  .extend(apiMetricsEnv.shape)
  .extend({
    /** The embedded database's folder, when DATABASE_URL is unset (see databaseDir). */
    START_DATABASE_DIR: envOptionalString(),
    /** The XDG base directory START_DATABASE_DIR defaults under (`$XDG_DATA_HOME/fathom/database`). */
    XDG_DATA_HOME: envOptionalString(),
    /** The API's port, where the launcher waits for /readyz and which it prints. */
    PORT: envInt(8080, { max: 65535 }),
    /** Download missing downloadable models (newest version of each) before starting. */
    MODELS_PULL_ON_START: envBool(true),
    /** How long the API and the worker get to stop after SIGTERM before they are killed. */
    START_STOP_GRACE_MS: envInt(10_000, { min: 100, max: 600_000 }),
    /** The first restart's delay; each further one doubles it, up to the max. */
    START_RESTART_DELAY_MS: envInt(1_000, { min: 10, max: 600_000 }),
    START_RESTART_MAX_DELAY_MS: envInt(30_000, { min: 10, max: 3_600_000 }),
    /** A process that ran this long before it stopped is restarted after the first delay again. */
    START_RESTART_RESET_MS: envInt(60_000, { min: 0, max: 86_400_000 }),
    /** The launcher's own /metrics (its restart counts); 0 = any free port. */
    START_METRICS_PORT: envInt(9465, { max: 65_535 }),
    START_METRICS_HOST: envString('127.0.0.1'),
  })
  .refine((c) => c.START_RESTART_MAX_DELAY_MS >= c.START_RESTART_DELAY_MS, {
    message: 'must be at least START_RESTART_DELAY_MS',
    path: ['START_RESTART_MAX_DELAY_MS'],
  });
export type StartConfig = z.infer<typeof startEnvSchema>;
export const START_ENV_KEYS = envKeys(startEnvSchema);

export function loadStartConfig(env: NodeJS.ProcessEnv = process.env): StartConfig {
  return loadConfig('fathom', startEnvSchema, env);
}
