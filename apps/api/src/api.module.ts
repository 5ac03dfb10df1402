import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import { loggerOptions } from '@fathom/telemetry';
import { ApiExceptionFilter } from './common/api-exception.filter';
import { TRACING, type TracingState } from './common/tracing';
import { API_CONFIG, type ApiConfig } from './config/api.config';
import { HealthController } from './health/health.controller';
import { InferController } from './infer/infer.controller';
import { JobCanceller } from './jobs/job-canceller.service';
import { JobReader } from './jobs/job-reader.service';
import { JobSubmitter } from './jobs/job-submitter.service';
import { JobsController } from './jobs/jobs.controller';
import { ModelsController } from './models/models.controller';
import { ServedModelsService } from './models/served-models.service';
import { QueueRegistry } from './queues/queue.registry';
import { JobEventsRelay } from './realtime/job-events.relay';
import { JobAudience } from './realtime/job-audience.store';
import { JobsGateway } from './realtime/jobs.gateway';
import { redisProviders } from './redis.providers';
import { ApiMetrics } from './metrics/api-metrics';
import { MetricsController } from './metrics/metrics.controller';
import { QueueMetricsCollector } from './metrics/queue-metrics.collector';
import { AdminController } from './rollout/admin.controller';
import { AdminKeyGuard } from './rollout/admin-key.guard';
import { RolloutService } from './rollout/rollout.service';
import { RolloutStore } from './rollout/rollout.store';
import { ImageInspector } from './uploads/image-inspector';
import { WebController } from './web/web.controller';

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
              autoLogging: { ignore: (req) => ['/healthz', '/readyz', '/metrics'].includes(req.url ?? '') },
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
        TerminusModule,
      ],
      controllers: [JobsController, InferController, ModelsController, AdminController, HealthController, MetricsController, WebController],
      providers: [
        { provide: API_CONFIG, useValue: config },
        { provide: TRACING, useValue: tracing },
        ...redisProviders,
        QueueRegistry,
        ApiMetrics,
        QueueMetricsCollector,
        RolloutStore,
        ServedModelsService,
        RolloutService,
        AdminKeyGuard,
        ImageInspector,
        JobReader,
        JobSubmitter,
        JobCanceller,
        JobAudience,
        JobsGateway,
        JobEventsRelay,
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
      ],
    };
  }
}
