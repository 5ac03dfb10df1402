import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { BullmqLayout, createRedisConnection, IdempotencyStore, JobRecordStore, RolloutStore, WorkerRegistry } from '@fathom/queue';
import { BlobStore } from '@fathom/storage';
import { API_CONFIG, type ApiConfig } from '../config/api.config';

export const REDIS = Symbol('REDIS');

/** Closes the shared command connection last, after everything that uses it. */
@Injectable()
export class RedisLifecycle implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

export const redisProviders: Provider[] = [
  { provide: REDIS, inject: [API_CONFIG], useFactory: (c: ApiConfig) => createRedisConnection(c.REDIS_URL, 'commands') },
  RedisLifecycle,
  {
    provide: BlobStore,
    inject: [REDIS, API_CONFIG],
    useFactory: (redis: Redis, c: ApiConfig) => new BlobStore(redis, c.REDIS_PREFIX, c.STORAGE_RETENTION_SECONDS),
  },
  {
    provide: JobRecordStore,
    inject: [REDIS, API_CONFIG],
    useFactory: (redis: Redis, c: ApiConfig) => new JobRecordStore(redis, c.REDIS_PREFIX, c.STORAGE_RETENTION_SECONDS),
  },
  {
    provide: IdempotencyStore,
    inject: [REDIS, API_CONFIG],
    useFactory: (redis: Redis, c: ApiConfig) => new IdempotencyStore(redis, c.REDIS_PREFIX, c.STORAGE_RETENTION_SECONDS),
  },
  {
    provide: WorkerRegistry,
    inject: [REDIS, API_CONFIG],
    useFactory: (redis: Redis, c: ApiConfig) => new WorkerRegistry(redis, c.REDIS_PREFIX, c.WORKER_HEARTBEAT_TTL_MS),
  },
  {
    provide: RolloutStore,
    inject: [REDIS, API_CONFIG],
    useFactory: (redis: Redis, c: ApiConfig) => new RolloutStore(redis, c.REDIS_PREFIX),
  },
  {
    provide: BullmqLayout,
    inject: [REDIS, API_CONFIG],
    useFactory: (redis: Redis, c: ApiConfig) => new BullmqLayout(redis, c.REDIS_PREFIX),
  },
];
