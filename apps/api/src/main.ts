import 'reflect-metadata';
import { ConfigError } from '@fathom/config';
import { createApiApp, listen } from './api.bootstrap';
import { loadApiConfig } from './config/api.config';

async function main(): Promise<void> {
  const config = loadApiConfig();
  const app = await createApiApp(config);
  const url = await listen(app, config);
  const logger = app.get(await import('nestjs-pino').then((m) => m.Logger));
  logger.log({ msg: `Fathom API listening on ${url}`, url, docs: `${url}/docs`, web: `${url}/` });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.log({ msg: `${signal}: closing` });
      void app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
