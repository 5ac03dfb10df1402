import { Counter, Gauge, type Registry } from 'prom-client';

/** What the collector reads from the inference pool at scrape time. */
export interface PoolReading {
  readonly size: number;
  readonly hungThreads: number;
  /** Models loaded and taking jobs (at start and at runtime). */
  readonly loadedModels: readonly unknown[];
  busySeconds(): number;
}

/**
 * The inference pool's gauges, read when Prometheus scrapes (collect()): its threads, and the time
 * they spent on jobs — read with the runs in progress, so a 2-minute inference counts while it runs.
 */
export class InferencePoolCollector {
  constructor(registry: Registry, pool: PoolReading) {
    /** Busy seconds already added to the counter: a counter only goes up. */
    let busyReported = 0;
    new Gauge({
      name: 'fathom_worker_inference_slots',
      help: 'Inference threads.',
      registers: [registry],
      collect() {
        this.set(pool.size);
      },
    });
    new Gauge({
      name: 'fathom_worker_inference_threads_hung',
      help: 'Inference threads retired after a stage outlasted its limit and still running (stuck in a native call); past WORKER_MAX_HUNG_THREADS the worker restarts.',
      registers: [registry],
      collect() {
        this.set(pool.hungThreads);
      },
    });
    new Gauge({
      name: 'fathom_worker_models_loaded',
      help: 'Model versions and variants loaded on every inference thread and taking jobs (local manifests and registered deployments).',
      registers: [registry],
      collect() {
        this.set(pool.loadedModels.length);
      },
    });
    new Counter({
      name: 'fathom_worker_inference_busy_seconds_total',
      help: 'Time inference threads spent on jobs; rate(...) / fathom_worker_inference_slots is the busy ratio.',
      registers: [registry],
      collect() {
        const busy = pool.busySeconds();
        if (busy > busyReported) {
          this.inc(busy - busyReported);
          busyReported = busy;
        }
      },
    });
  }
}
