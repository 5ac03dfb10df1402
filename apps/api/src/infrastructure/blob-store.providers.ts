import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { storageSettings, storageSweepIntervalMs } from '@fathom/config';
import { BlobStore, BlobSweeper, createBlobStore } from '@fathom/storage';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { REDIS } from './redis.providers';

/** Sweeps expired blobs while the API runs (one instance per round, see BlobSweeper) and closes the store last. */
@Injectable()
export class BlobStoreLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('BlobStore');
  private sweeper: BlobSweeper | undefined;

  constructor(
    @Inject(BlobStore) private readonly blobs: BlobStore,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  onApplicationBootstrap(): void {
    const intervalMs = storageSweepIntervalMs(this.config);
    this.logger.log({ msg: 'object store', backend: this.blobs.kind, sweepIntervalMs: intervalMs });
    if (intervalMs === 0) return;
    this.sweeper = new BlobSweeper(
      this.blobs,
      this.redis,
      { prefix: this.config.REDIS_PREFIX, retentionSeconds: this.config.STORAGE_RETENTION_SECONDS, intervalMs },
      { info: (f) => this.logger.log(f), warn: (f) => this.logger.warn(f) },
    ).start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sweeper?.stop();
    await this.blobs.close();
  }
}

export const blobStoreProviders: Provider[] = [
  {
    provide: BlobStore,
    inject: [API_CONFIG],
    useFactory: (c: ApiConfig) => createBlobStore(storageSettings(c), c.REDIS_PREFIX),
  },
  BlobStoreLifecycle,
];
