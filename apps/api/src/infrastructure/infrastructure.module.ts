import { Global, Module, type DynamicModule } from '@nestjs/common';
import { TRACING, type TracingState } from '../common/tracing';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { databaseProviders } from './database.providers';
import { QueueRegistry } from './queue.registry';
import { blobStoreProviders } from './blob-store.providers';
import { redisProviders } from './redis.providers';

/**
 * What every feature module stands on: the config, whether tracing is on, the Redis connections, the object store,
 * the database (migrated at start-up), the stores and the model queues. Global, so a feature module imports only other features.
 * Being global, Nest shuts it down after the feature modules that use it.
 */
@Global()
@Module({})
export class InfrastructureModule {
  /** Config is passed in, not read from process.env here, so tests can run several instances. */
  static forRoot(config: ApiConfig, tracing: TracingState): DynamicModule {
    const providers = [
      { provide: API_CONFIG, useValue: config },
      { provide: TRACING, useValue: tracing },
      ...redisProviders,
      ...blobStoreProviders,
      ...databaseProviders,
      QueueRegistry,
    ];
    return { module: InfrastructureModule, providers, exports: providers };
  }
}
