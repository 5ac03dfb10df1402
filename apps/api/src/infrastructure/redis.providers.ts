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

/** A store over the shared command connection (auto-pipelined), built from the config. */
function store<T>(token: abstract new (...args: never[]) => T, build: (redis: Redis, c: ApiConfig) => T): Provider {
  return { provide: token, inject: [REDIS, API_CONFIG], useFactory: build };
}

/** The shared Redis command connection and every store the API keeps in Redis. */
export const redisProviders: Provider[] = [
  { provide: REDIS, inject: [API_CONFIG], useFactory: (c: ApiConfig) => createRedisConnection(c.REDIS_URL, 'commands') },
  RedisLifecycle,
  store(BlobStore, (redis, c) => new BlobStore(redis, c.REDIS_PREFIX, c.STORAGE_RETENTION_SECONDS)),
  store(JobRecordStore, (redis, c) => new JobRecordStore(redis, c.REDIS_PREFIX, c.STORAGE_RETENTION_SECONDS)),
  store(IdempotencyStore, (redis, c) => new IdempotencyStore(redis, c.REDIS_PREFIX, c.STORAGE_RETENTION_SECONDS)),
  store(WorkerRegistry, (redis, c) => new WorkerRegistry(redis, c.REDIS_PREFIX, c.WORKER_HEARTBEAT_TTL_MS)),
  store(RolloutStore, (redis, c) => new RolloutStore(redis, c.REDIS_PREFIX)),
  store(BullmqLayout, (redis, c) => new BullmqLayout(redis, c.REDIS_PREFIX)),
];
