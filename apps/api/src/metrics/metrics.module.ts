import { Module } from '@nestjs/common';
import { CatalogModule } from '../models/catalog/catalog.module';
import { ApiMetrics } from './api-metrics';
import { ApiMetricsServer } from './metrics.server';
import { metricsRegistryProvider, METRICS_REGISTRY } from './metrics.registry';
import { QueueMetricsCollector } from './queue-metrics.collector';

/**
 * GET /metrics over this instance's registry, on its own port (ApiMetricsServer). Features count through ApiMetrics' intent methods;
 * a feature's scrape-time gauges go in a `*.collector.ts` given METRICS_REGISTRY.
 */
@Module({
  imports: [CatalogModule],
  providers: [metricsRegistryProvider, ApiMetrics, QueueMetricsCollector, ApiMetricsServer],
  exports: [ApiMetrics, METRICS_REGISTRY, ApiMetricsServer],
})
export class MetricsModule {}
