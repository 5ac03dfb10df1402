import { Module } from '@nestjs/common';
import { JobsModule } from '../jobs/jobs.module';
import { MetricsModule } from '../metrics/metrics.module';
import { FeedbackController } from './feedback.controller';
import { FeedbackService } from './feedback.service';
import { PredictionIngester } from './prediction-ingester.service';
import { PredictionMetrics } from './prediction-metrics';

/**
 * The prediction log (issue 15, ADR 0017): every finished job's record, from the Redis stream into
 * PostgreSQL (PredictionIngester), its export and its owners' feedback.
 */
@Module({
  imports: [MetricsModule, JobsModule],
  controllers: [FeedbackController],
  providers: [PredictionIngester, PredictionMetrics, FeedbackService],
  exports: [PredictionMetrics],
})
export class PredictionsModule {}
