import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { QueueEvents } from 'bullmq';
import { redisSettings } from '@fathom/config';
import {
  BullmqLayout,
  createInferenceQueue,
  createRedisConnection,
  RedisAvailability,
  type InferenceQueue,
  type RedisClient,
} from '@fathom/queue';
import { TRACING, type TracingState } from '../common/tracing';
import { API_CONFIG, type ApiConfig } from '../config/api.config';

export type QueueEventsListener = (queueName: string, events: QueueEvents) => void;

/**
 * The API's handles on per-model queues, created on first use: a Queue to add and read jobs, and
 * a QueueEvents stream reader so worker events reach this instance's sockets.
 */
@Injectable()
export class QueueRegistry implements OnApplicationShutdown {
  private readonly logger = new Logger(QueueRegistry.name);
  private readonly queues = new Map<string, InferenceQueue>();
  private readonly events = new Map<string, Promise<QueueEvents>>();
  private readonly listeners: QueueEventsListener[] = [];
  /**
   * The queues' own connection, not pipelined: BullMQ defines its ~50 Lua scripts on the connection
   * it is given, and ioredis copies all of them into every pipeline it builds (about 0.3 ms of CPU
   * per job in a profile). The shared REDIS connection (blobs, records) keeps auto-pipelining.
   */
  private connection: RedisClient | null = null;

  constructor(
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(BullmqLayout) private readonly layout: BullmqLayout,
    @Inject(TRACING) private readonly tracing: TracingState,
    @Inject(RedisAvailability) private readonly availability: RedisAvailability,
  ) {}

  queue(name: string): InferenceQueue {
    let queue = this.queues.get(name);
    if (!queue) {
      this.connection ??= this.availability.watch(
        createRedisConnection(redisSettings(this.config), 'commands', { enableAutoPipelining: false, connectionName: 'fathom-queues' }),
        'fathom-queues',
        { failFast: true },
      );
      queue = createInferenceQueue(name, this.connection, this.config.REDIS_PREFIX, { tracing: this.tracing.enabled });
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Resolves once this instance is reading the queue's event stream. */
  queueEvents(name: string): Promise<QueueEvents> {
    let events = this.events.get(name);
    if (!events) {
      events = this.openQueueEvents(name);
      this.events.set(name, events);
      events.catch(() => this.events.delete(name));
    }
    return events;
  }

  onQueueEvents(listener: QueueEventsListener): void {
    this.listeners.push(listener);
  }

  async onApplicationShutdown(): Promise<void> {
    const events = await Promise.allSettled([...this.events.values()]);
    await Promise.all(events.flatMap((e) => (e.status === 'fulfilled' ? [e.value.close()] : [])));
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    // BullMQ never closes a connection it was given.
    await this.connection?.quit().catch(() => this.connection?.disconnect());
  }

  private async openQueueEvents(name: string): Promise<QueueEvents> {
    // Start right after the stream's newest entry, not at '$' once the first XREAD runs: events
    // written while this reader connects would otherwise be lost.
    const lastEventId = await this.layout.newestEventId(name);
    const events = new QueueEvents(name, {
      connection: this.availability.watch(createRedisConnection(redisSettings(this.config), 'blocking')),
      prefix: this.config.REDIS_PREFIX,
      lastEventId,
      autorun: false,
    });
    // A lost connection is logged once, by RedisAvailability; anything else here.
    events.on('error', (error) => {
      if (!this.availability.failed(error, `queue-events ${name}`)) this.logger.warn(`queue events ${name}: ${error.message}`);
    });
    for (const listener of this.listeners) listener(name, events);
    // The reader outlives the request that opened it: its events must not run inside that request's trace.
    void context
      .with(ROOT_CONTEXT, () => events.run())
      .catch((error: Error) => this.logger.error(`queue events ${name} stopped: ${error.message}`));
    await events.waitUntilReady();
    return events;
  }
}
