import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { PredictionIngester } from './prediction-ingester.service';
import { PredictionMetrics } from './prediction-metrics';

/**
 * The prediction log (issue 15, ADR 0017): every finished job's record, from the Redis stream into
 * PostgreSQL (PredictionIngester), its export and its owners' feedback.
 */
@Module({
  imports: [MetricsModule],
  providers: [PredictionIngester, PredictionMetrics],
  exports: [PredictionMetrics],
})
export class PredictionsModule {}
