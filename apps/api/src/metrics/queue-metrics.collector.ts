import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Gauge } from 'prom-client';
import { ServedModelsService } from '../models/served-models.service';
import { QueueRegistry } from '../queues/queue.registry';
import { REDIS } from '../redis.providers';
import { ApiMetrics } from './api-metrics';

/** `fathom_queue_jobs` states, from BullMQ's lists and sets. */
const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

interface QueueReading {
  labels: { queue: string; model: string; version: string; variant: string };
  counts: Record<(typeof STATES)[number], number>;
  oldestWaitingAgeSeconds: number;
}

interface Reading {
  queues: QueueReading[];
  workers: { labels: { model: string; version: string; variant: string }; count: number }[];
}

/**
 * The queue and worker gauges, read from Redis when Prometheus scrapes (collect()), over every
 * queue the catalog or a live heartbeat names, so a model no worker serves shows 0 workers and its
 * backlog. Per queue: one count script and two LINDEX + at most two HGET, plus the heartbeats and
 * catalog (cached 500 ms) — cheap at a 15 s scrape interval. The three gauges share one reading.
 */
@Injectable()
export class QueueMetricsCollector {
  private pending: Promise<Reading> | null = null;

  constructor(
    @Inject(ApiMetrics) metrics: ApiMetrics,
    @Inject(ServedModelsService) private readonly models: ServedModelsService,
    @Inject(QueueRegistry) private readonly queues: QueueRegistry,
    @Inject(REDIS) private readonly redis: Redis,
  ) {
    const registers = [metrics.registry];
    const read = () => this.read();
    new Gauge({
      name: 'fathom_queue_jobs',
      help: 'Jobs per queue and state (waiting includes paused and prioritized), read from Redis at scrape time.',
      labelNames: ['queue', 'model', 'version', 'variant', 'state'] as const,
      registers,
      async collect() {
        const { queues } = await read();
        this.reset();
        for (const { labels, counts } of queues) for (const state of STATES) this.set({ ...labels, state }, counts[state]);
      },
    });
    new Gauge({
      name: 'fathom_queue_oldest_waiting_age_seconds',
      help: 'Age of the oldest waiting job (since it was submitted), 0 when none waits.',
      labelNames: ['queue', 'model', 'version', 'variant'] as const,
      registers,
      async collect() {
        const { queues } = await read();
        this.reset();
        for (const { labels, oldestWaitingAgeSeconds } of queues) this.set(labels, oldestWaitingAgeSeconds);
      },
    });
    new Gauge({
      name: 'fathom_workers_online',
      help: 'Live workers serving the model version and variant ("" for none), from their heartbeats.',
      labelNames: ['model', 'version', 'variant'] as const,
      registers,
      async collect() {
        const { workers } = await read();
        this.reset();
        for (const { labels, count } of workers) this.set(labels, count);
      },
    });
  }

  /** One Redis reading per scrape: the gauges' collect() calls run together and share it. */
  private read(): Promise<Reading> {
    if (!this.pending) {
      this.pending = this.load();
      const clear = () => (this.pending = null);
      this.pending.then(clear, clear);
    }
    return this.pending;
  }

  private async load(): Promise<Reading> {
    const [known, live] = await Promise.all([this.models.knownModels(), this.models.liveWorkers()]);
    const declared = [...known, ...live.flatMap((w) => w.models)];
    // One queue per version and variant: jobs waiting for a variant no worker serves must show.
    const queues = new Map(declared.map((m) => [m.queue, { queue: m.queue, model: m.name, version: m.version, variant: m.variant ?? '' }]));
    const now = Date.now();
    return {
      queues: await Promise.all([...queues.values()].map((labels) => this.readQueue(labels, now))),
      // A queue is one version and variant: the workers serving it are the ones consuming it.
      workers: [...queues.values()].map(({ queue, ...labels }) => ({
        labels,
        count: live.filter((w) => w.models.some((m) => m.queue === queue)).length,
      })),
    };
  }

  private async readQueue(labels: QueueReading['labels'], now: number): Promise<QueueReading> {
    const queue = this.queues.queue(labels.queue);
    const counts = await queue.getJobCounts('waiting', 'paused', 'prioritized', 'active', 'delayed', 'failed');
    const count = (type: string) => counts[type] ?? 0;
    const waiting = count('waiting') + count('paused') + count('prioritized');
    return {
      labels,
      counts: { waiting, active: count('active'), delayed: count('delayed'), failed: count('failed') },
      oldestWaitingAgeSeconds: waiting === 0 ? 0 : await this.oldestWaitingAge(queue, now),
    };
  }

  /** Jobs are pushed at the head of the wait (or, while paused, paused) list and taken from its tail. */
  private async oldestWaitingAge(queue: ReturnType<QueueRegistry['queue']>, now: number): Promise<number> {
    const client = this.redis;
    const tails = await Promise.all([client.lindex(queue.toKey('wait'), -1), client.lindex(queue.toKey('paused'), -1)]);
    // BullMQ 4 left "0:<delay>" markers in the wait list; they are not jobs.
    const ids = tails.filter((id): id is string => id !== null && !id.startsWith('0:'));
    const timestamps = await Promise.all(ids.map((id) => client.hget(queue.toKey(id), 'timestamp')));
    const oldest = Math.min(...timestamps.map(Number).filter((t) => Number.isFinite(t) && t > 0));
    return Number.isFinite(oldest) ? Math.max(0, (now - oldest) / 1000) : 0;
  }
}
