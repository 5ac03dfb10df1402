import { Inject, Injectable } from '@nestjs/common';
import { Gauge, type Registry } from 'prom-client';
import { EvaluationStore } from '@fathom/database';
import { METRICS_REGISTRY } from '../metrics/metrics.registry';

/** Scrapes within this long of the last one (several Prometheus servers) reuse its reading. */
const CACHE_MS = 1_000;

/**
 * `fathom_eval_metric{model,version,dataset,metric}`: each model version's latest completed
 * evaluation on each dataset, read from PostgreSQL at scrape time (cached briefly), for the models
 * dashboard's quality panel. A database that does not answer leaves the gauge empty for that scrape.
 */
@Injectable()
export class EvaluationMetricsCollector {
  private reading: { at: number; rows: Promise<Awaited<ReturnType<EvaluationStore['latestPerVersion']>>> } | null = null;

  constructor(
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(EvaluationStore) private readonly store: EvaluationStore,
  ) {
    const read = () => this.read();
    new Gauge({
      name: 'fathom_eval_metric',
      help: "A model version's quality metric from its latest completed evaluation on a dataset (name@version).",
      labelNames: ['model', 'version', 'variant', 'dataset', 'metric'] as const,
      registers: [registry],
      async collect() {
        const rows = await read().catch(() => []);
        this.reset();
        for (const row of rows)
          for (const [metric, value] of Object.entries(row.metrics))
            if (Number.isFinite(value))
              this.set({ model: row.model, version: row.version, variant: row.variant, dataset: row.dataset, metric }, value);
      },
    });
  }

  private read() {
    if (!this.reading || Date.now() - this.reading.at > CACHE_MS) {
      const rows = this.store.latestPerVersion();
      rows.catch(() => (this.reading = null));
      this.reading = { at: Date.now(), rows };
    }
    return this.reading.rows;
  }
}
