import { tracing } from './instrumentation';
import 'reflect-metadata';
import { inspect } from 'node:util';
import { ConfigError, redactCrashLogs, redactSecrets } from '@fathom/config';
import { MigrationError } from '@fathom/database';
import { MetricsListenError } from '@fathom/telemetry';
import { closeApiApp, createApiApp, listen } from './api.bootstrap';
import { NoActiveKeyError } from './auth/authenticator';
import { loadApiConfig } from './config/api.config';

async function main(): Promise<void> {
  redactCrashLogs();
  const config = loadApiConfig();
  const app = await createApiApp(config, { enabled: tracing.enabled });
  const { url, metricsUrl } = await listen(app, config);
  const logger = app.get(await import('nestjs-pino').then((m) => m.Logger));
  logger.log({ msg: `Fathom API listening on ${url}`, url, docs: `${url}/docs`, web: `${url}/`, metrics: metricsUrl });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.log({ msg: `${signal}: closing` });
      // Spans still buffered (the last requests', the shutdown's) are flushed before exiting.
      void closeApiApp(app, config.API_SHUTDOWN_GRACE_MS)
        .then(
          () => 0,
          () => 1,
        )
        .then(async (code) => {
          await tracing.shutdown().catch(() => undefined);
          process.exit(code);
        });
    });
  }
}

main().catch(async (error: unknown) => {
  // Secrets never reach the crash log (an ioredis error carries its command's arguments).
  // A bad setting, a metrics port that cannot be opened, or a database that cannot be reached or
  // migrated, or keys on with no key to use, is said in one line without a stack.
  const known =
    error instanceof ConfigError ||
    error instanceof MetricsListenError ||
    error instanceof MigrationError ||
    error instanceof NoActiveKeyError;
  console.error(redactSecrets(known ? error.message : inspect(error)));
  await tracing.shutdown().catch(() => undefined);
  process.exit(1);
});
