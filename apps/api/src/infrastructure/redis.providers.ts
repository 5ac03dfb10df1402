import { Inject, Injectable, Logger, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { redisSettings } from '@fathom/config';
import {
  BullmqLayout,
  createRedisConnection,
  DeploymentMirror,
  IdempotencyStore,
  InFlightStore,
  JobRecordStore,
  PredictionStream,
  RedisAvailability,
  RolloutStore,
  WorkerRegistry,
  type RedisClient,
} from '@fathom/queue';
import { API_CONFIG, type ApiConfig } from '../config/api.config';

export const REDIS = Symbol('REDIS');

/** Closes the shared command connection last, after everything that uses it. */
@Injectable()
export class RedisLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(RedisAvailability) private readonly availability: RedisAvailability,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.availability.stop();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * PINGs often enough that an outage is noticed well within a heartbeat TTL (the worker
 * registry's rule counts on it), and at least once a second.
 */
export function probeIntervalMs(c: ApiConfig): number {
  return Math.min(1_000, Math.floor(c.WORKER_HEARTBEAT_TTL_MS / 4));
}

export const redisProviders: Provider[] = [
  { provide: REDIS, inject: [API_CONFIG], useFactory: (c: ApiConfig) => createRedisConnection(redisSettings(c), 'commands') },
  {
    provide: RedisAvailability,
    inject: [REDIS, API_CONFIG],
    useFactory: (redis: RedisClient, c: ApiConfig) => {
      const logger = new Logger('Redis');
      return new RedisAvailability(redis, { warn: (f) => logger.warn(f), info: (f) => logger.log(f) }, probeIntervalMs(c)).start();
    },
  },
  RedisLifecycle,
  {
    provide: JobRecordStore,
    inject: [REDIS, API_CONFIG],
    useFactory: (redis: RedisClient, c: ApiConfig) => new JobRecordStore(redis, c.REDIS_PREFIX, c.STORAGE_RETENTION_SECONDS),
  },
  {
    provide: IdempotencyStore,
    inject: [REDIS, API_CONFIG],
    useFactory: (redis: RedisClient, c: ApiConfig) => new IdempotencyStore(redis, c.REDIS_PREFIX, c.STORAGE_RETENTION_SECONDS),
  },
  {
    provide: WorkerRegistry,
    inject: [REDIS, API_CONFIG, RedisAvailability],
    useFactory: (redis: RedisClient, c: ApiConfig, availability: RedisAvailability) =>
      new WorkerRegistry(redis, c.REDIS_PREFIX, c.WORKER_HEARTBEAT_TTL_MS, () => availability.reachableSince()),
  },
  {
    provide: RolloutStore,
    inject: [REDIS, API_CONFIG],
    useFactory: (redis: RedisClient, c: ApiConfig) => new RolloutStore(redis, c.REDIS_PREFIX),
  },
  {
    provide: DeploymentMirror,
    inject: [REDIS, API_CONFIG],
    useFactory: (redis: RedisClient, c: ApiConfig) => new DeploymentMirror(redis, c.REDIS_PREFIX),
  },
  {
    provide: BullmqLayout,
    inject: [REDIS, API_CONFIG],
    useFactory: (redis: RedisClient, c: ApiConfig) => new BullmqLayout(redis, c.REDIS_PREFIX),
  },
  {
    provide: PredictionStream,
    inject: [REDIS, API_CONFIG],
    useFactory: (redis: RedisClient, c: ApiConfig) => new PredictionStream(redis, c.REDIS_PREFIX, c.PREDICTION_BUFFER),
  },
  {
    provide: InFlightStore,
    inject: [REDIS, API_CONFIG, BullmqLayout],
    useFactory: (redis: RedisClient, c: ApiConfig, layout: BullmqLayout) =>
      new InFlightStore(redis, c.REDIS_PREFIX, layout, c.STORAGE_RETENTION_SECONDS),
  },
];
