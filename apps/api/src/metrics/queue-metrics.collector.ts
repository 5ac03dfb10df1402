import { Inject, Injectable } from '@nestjs/common';
import { Gauge, type Registry } from 'prom-client';
import type { KnownModel } from '@fathom/contracts';
import { BullmqLayout } from '@fathom/queue';
import { QueueRegistry } from '../infrastructure/queue.registry';
import { workersServing } from '../models/catalog/model-resolver';
import { ServedModelsService } from '../models/catalog/served-models.service';
import { METRICS_REGISTRY } from './metrics.registry';

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
 * backlog. Per queue: one count script and the oldest waiting job (BullmqLayout: two LINDEX + at
 * most two HGET), plus the heartbeats and catalog (cached 500 ms) — cheap at a 15 s scrape
 * interval. The three gauges share one reading.
 */
@Injectable()
export class QueueMetricsCollector {
  private pending: Promise<Reading> | null = null;

  constructor(
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(ServedModelsService) private readonly models: ServedModelsService,
    @Inject(QueueRegistry) private readonly queues: QueueRegistry,
    @Inject(BullmqLayout) private readonly layout: BullmqLayout,
  ) {
    const registers = [registry];
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
    const queues = [...new Map(declared.map((m) => [m.queue, m])).values()];
    const labels = (m: KnownModel) => ({ model: m.name, version: m.version, variant: m.variant ?? '' });
    const now = Date.now();
    return {
      queues: await Promise.all(queues.map((m) => this.readQueue({ queue: m.queue, ...labels(m) }, now))),
      // A queue is one version and variant: the workers serving it are the ones consuming it.
      workers: queues.map((m) => ({ labels: labels(m), count: workersServing(live, m) })),
    };
  }

  private async readQueue(labels: QueueReading['labels'], now: number): Promise<QueueReading> {
    const counts = await this.queues.queue(labels.queue).getJobCounts('waiting', 'paused', 'prioritized', 'active', 'delayed', 'failed');
    const count = (type: string) => counts[type] ?? 0;
    const waiting = count('waiting') + count('paused') + count('prioritized');
    const oldest = waiting === 0 ? null : await this.layout.oldestWaitingTimestamp(labels.queue);
    return {
      labels,
      counts: { waiting, active: count('active'), delayed: count('delayed'), failed: count('failed') },
      oldestWaitingAgeSeconds: oldest === null ? 0 : Math.max(0, (now - oldest) / 1000),
    };
  }
}
