import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { CatalogModule } from '../models/catalog/catalog.module';
import { DriftController, DriftReferenceController } from './drift.controller';
import { DriftMetrics } from './drift-metrics';
import { DriftMonitor } from './drift.monitor';
import { DriftService } from './drift.service';

/**
 * Drift (issue 15, ADR 0017): reference profiles per model version, the monitor that scores each
 * version's latest production predictions against its reference on one instance per round, and
 * GET /v1/models/:name/drift.
 */
@Module({
  imports: [CatalogModule, MetricsModule],
  controllers: [DriftController, DriftReferenceController],
  providers: [DriftService, DriftMetrics, DriftMonitor],
})
export class DriftModule {}
