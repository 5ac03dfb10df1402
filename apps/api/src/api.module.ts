import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import { loggerOptions } from '@fathom/telemetry';
import { AuthModule } from './auth/auth.module';
import { ApiExceptionFilter } from './common/api-exception.filter';
import { requestLogOptions } from './common/request-log';
import type { TracingState } from './common/tracing';
import type { ApiConfig } from './config/api.config';
import { DatasetsModule } from './datasets/datasets.module';
import { DriftModule } from './drift/drift.module';
import { EvaluationsModule } from './evaluations/evaluations.module';
import { DeploymentsModule } from './deployments/deployments.module';
import { HealthModule } from './health/health.module';
import { InfrastructureModule } from './infrastructure/infrastructure.module';
import { JobsModule } from './jobs/jobs.module';
import { KeysModule } from './keys/keys.module';
import { MetricsModule } from './metrics/metrics.module';
import { ModelsModule } from './models/models.module';
import { PredictionsModule } from './predictions/predictions.module';
import { RealtimeModule } from './realtime/realtime.module';
import { WebModule } from './web/web.module';

/**
 * The API's features, each a folder with its module, controllers, services, DTOs (`dto/`) and
 * specs, over InfrastructureModule (global: config, Redis, the stores, the queues).
 *
 * Adding a resource ("evaluations", "deployments"): create `evaluations/` with
 * `evaluations.module.ts` (its controllers and providers; `imports` only the features it uses, e.g.
 * MetricsModule for ApiMetrics, CatalogModule for model resolution), and add that one module to
 * FEATURES below. A new Redis store goes in libs/queue and is provided in infrastructure/.
 */
export const FEATURES = [
  KeysModule,
  JobsModule,
  ModelsModule,
  DeploymentsModule,
  DatasetsModule,
  EvaluationsModule,
  PredictionsModule,
  DriftModule,
  RealtimeModule,
  HealthModule,
  MetricsModule,
  WebModule,
];

@Module({})
export class ApiModule {
  /** Config is passed in, not read from process.env here, so tests can run several instances. */
  static forRoot(config: ApiConfig, tracing: TracingState = { enabled: false }): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: [
            {
              ...loggerOptions('fathom-api', config.LOG_LEVEL),
              ...requestLogOptions,
              autoLogging: { ignore: (req) => ['/healthz', '/readyz'].includes(req.url ?? '') },
              // Request bodies (images) and headers stay out of the logs: method, url, status, time.
              serializers: {
                req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
                res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
              },
            },
            // Written off the event loop: lines logged while a write is under way go out together in
            // the next one, not one system call per line; pino flushes what is left when the process exits.
            pino.destination({ dest: 1, sync: false }),
          ],
        }),
        InfrastructureModule.forRoot(config, tracing),
        AuthModule,
        ...FEATURES,
      ],
      // One filter for every route: a FathomError's code becomes its HTTP status (common/error-status.ts).
      providers: [{ provide: APP_FILTER, useClass: ApiExceptionFilter }],
    };
  }
}
