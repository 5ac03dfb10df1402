import { Module } from '@nestjs/common';
import { JobsModule } from '../jobs/jobs.module';
import { MetricsModule } from '../metrics/metrics.module';
import { CatalogModule } from '../models/catalog/catalog.module';
import { PredictionExportController } from './prediction-export.controller';
import { PredictionExportService } from './prediction-export.service';
import { FeedbackController } from './feedback.controller';
import { FeedbackService } from './feedback.service';
import { PredictionIngester } from './prediction-ingester.service';
import { PredictionMetrics } from './prediction-metrics';
import { PredictionRetention } from './prediction-retention.service';

/**
 * The prediction log (issue 15, ADR 0017): every finished job's record, from the Redis stream into
 * PostgreSQL (PredictionIngester), its export and its owners' feedback.
 */
@Module({
  imports: [MetricsModule, CatalogModule, JobsModule],
  controllers: [PredictionExportController, FeedbackController],
  providers: [PredictionIngester, PredictionMetrics, PredictionExportService, PredictionRetention, FeedbackService],
  exports: [PredictionMetrics],
})
export class PredictionsModule {}
