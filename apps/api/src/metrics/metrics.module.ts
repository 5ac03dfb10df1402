import { Module } from '@nestjs/common';
import { CatalogModule } from '../models/catalog/catalog.module';
import { ApiMetrics } from './api-metrics';
import { MetricsController } from './metrics.controller';
import { metricsRegistryProvider, METRICS_REGISTRY } from './metrics.registry';
import { QueueMetricsCollector } from './queue-metrics.collector';

/**
 * GET /metrics over this instance's registry. Features count through ApiMetrics' intent methods;
 * a feature's scrape-time gauges go in a `*.collector.ts` given METRICS_REGISTRY.
 */
@Module({
  imports: [CatalogModule],
  controllers: [MetricsController],
  providers: [metricsRegistryProvider, ApiMetrics, QueueMetricsCollector],
  exports: [ApiMetrics, METRICS_REGISTRY],
})
export class MetricsModule {}
