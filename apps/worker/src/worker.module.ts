import { Inject, Injectable, Module, type BeforeApplicationShutdown, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { inferenceQueueName, type KnownModel, type ServedModel } from '@fathom/contracts';
import { specKey, type ModelSpec } from '@fathom/models';
import { createRedisConnection, WorkerRegistry } from '@fathom/queue';
import { BlobStore } from '@fathom/storage';
import { intraOpThreads, WORKER_CONFIG, type WorkerConfig } from './config/worker.config';
import { WorkerHeartbeat } from './heartbeat/worker-heartbeat';
import { InferencePool } from './inference/inference.pool';
import type { ModelSelection } from './models/model-selection';
import { InferenceProcessor } from './processors/inference.processor';
import { QueueConsumers } from './processors/queue-consumers';

export const LOGGER = Symbol('LOGGER');
export const REDIS = Symbol('REDIS');
export const MODEL_SELECTION = Symbol('MODEL_SELECTION');

/**
 * Start and stop in the one order that loses nothing: models loaded and warmed → queues consumed →
 * announced as serving; on SIGTERM, stop taking jobs and finish those in flight → withdraw → unload.
 */
@Injectable()
export class WorkerLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(MODEL_SELECTION) private readonly selection: ModelSelection,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(InferencePool) private readonly pool: InferencePool,
    @Inject(QueueConsumers) private readonly consumers: QueueConsumers,
    @Inject(WorkerHeartbeat) private readonly heartbeat: WorkerHeartbeat,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Every session is created and has run one warm-up inference before any queue is consumed.
    const loaded = await this.pool.start();
    const served: ServedModel[] = this.selection.serve.map((spec) => {
      const info = loaded.find((m) => m.key === specKey(spec));
      if (info?.fallbackFrom) this.logger.warn({ msg: 'execution provider fell back to CPU', model: info.key, reason: info.fallbackFrom });
      this.logger.info({ msg: 'model loaded', model: specKey(spec), task: spec.task, executionProvider: info?.executionProvider, loadMs: info?.loadMs, warmupMs: info?.warmupMs });
      return { ...knownModel(spec), executionProvider: info?.executionProvider ?? 'cpu', loadMs: info?.loadMs, warmupMs: info?.warmupMs };
    });
    await this.heartbeat.declare([...served.map(({ executionProvider: _e, loadMs: _l, warmupMs: _w, ...known }) => known), ...this.selection.unavailable.map((u) => knownModel(u.spec))]);
    this.consumers.start(served);
    await this.heartbeat.start(served);
    this.logger.info({ msg: 'worker ready', workerId: this.config.WORKER_ID, models: served.map(specKey), notServed: this.selection.unavailable.map((u) => specKey(u.spec)) });
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.logger.info({ msg: 'shutting down: finishing jobs in flight', signal });
    // Withdraw first: the API stops routing new jobs here while the ones in flight finish.
    await this.heartbeat.withdraw().catch(() => undefined);
    await this.consumers.close();
    await this.pool.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
    this.logger.info({ msg: 'worker stopped' });
  }
}

function knownModel(spec: ModelSpec): KnownModel {
  return {
    name: spec.name,
    version: spec.version,
    ...(spec.variant ? { variant: spec.variant } : {}),
    task: spec.task,
    queue: inferenceQueueName(spec.name, spec.version, spec.variant),
    description: spec.description,
    defaults: spec.defaults,
    input: { name: spec.input.name, description: describeInput(spec) },
  };
}

function describeInput(spec: ModelSpec): string {
  const r = spec.input.resize;
  const size = r.mode === 'fixed' ? `${r.width}×${r.height}` : `keep aspect, ${r.fit} ${r.target}, multiple of ${r.multiple}`;
  return `${spec.input.layout} float32, ${size}`;
}

@Module({})
export class WorkerModule {
  static forRoot(config: WorkerConfig, selection: ModelSelection, logger: Logger): DynamicModule {
    return {
      module: WorkerModule,
      providers: [
        { provide: WORKER_CONFIG, useValue: config },
        { provide: MODEL_SELECTION, useValue: selection },
        { provide: LOGGER, useValue: logger },
        { provide: REDIS, useFactory: () => createRedisConnection(config.REDIS_URL, 'commands') },
        { provide: BlobStore, inject: [REDIS], useFactory: (redis: Redis) => new BlobStore(redis, config.REDIS_PREFIX, config.STORAGE_RETENTION_SECONDS) },
        {
          provide: InferencePool,
          useFactory: () =>
            new InferencePool(
              { models: selection.serve, intraOpThreads: intraOpThreads(config), executionProviders: config.ORT_EXECUTION_PROVIDERS, maxPixels: config.WORKER_MAX_PIXELS },
              config.WORKER_INFERENCE_THREADS,
              (message) => logger.error({ msg: message }),
            ),
        },
        {
          provide: InferenceProcessor,
          inject: [InferencePool, BlobStore],
          useFactory: (pool: InferencePool, blobs: BlobStore) => new InferenceProcessor(pool, blobs, config.WORKER_ID, logger),
        },
        {
          provide: QueueConsumers,
          inject: [InferenceProcessor, BlobStore],
          useFactory: (processor: InferenceProcessor, blobs: BlobStore) =>
            new QueueConsumers({ redisUrl: config.REDIS_URL, prefix: config.REDIS_PREFIX, concurrency: config.WORKER_CONCURRENCY }, processor, blobs, logger),
        },
        {
          provide: WorkerHeartbeat,
          inject: [REDIS],
          useFactory: (redis: Redis) =>
            new WorkerHeartbeat(new WorkerRegistry(redis, config.REDIS_PREFIX, config.WORKER_HEARTBEAT_TTL_MS), config.WORKER_ID, config.WORKER_HEARTBEAT_MS, logger),
        },
        WorkerLifecycle,
      ],
    };
  }
}
