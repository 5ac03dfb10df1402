import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { CatalogModule } from '../models/catalog/catalog.module';
import { PredictionExportController } from './prediction-export.controller';
import { PredictionExportService } from './prediction-export.service';
import { PredictionIngester } from './prediction-ingester.service';
import { PredictionMetrics } from './prediction-metrics';
import { PredictionRetention } from './prediction-retention.service';

/**
 * The prediction log (issue 15, ADR 0017): every finished job's record, from the Redis stream into
 * PostgreSQL (PredictionIngester), its export and its owners' feedback.
 */
@Module({
  imports: [MetricsModule, CatalogModule],
  controllers: [PredictionExportController],
  providers: [PredictionIngester, PredictionMetrics, PredictionExportService, PredictionRetention],
  exports: [PredictionMetrics],
})
export class PredictionsModule {}
