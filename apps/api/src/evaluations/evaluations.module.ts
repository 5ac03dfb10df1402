import { Module } from '@nestjs/common';
import { DatasetsModule } from '../datasets/datasets.module';
import { JobsModule } from '../jobs/jobs.module';
import { MetricsModule } from '../metrics/metrics.module';
import { CatalogModule } from '../models/catalog/catalog.module';
import { EvaluationMetricsCollector } from './evaluation-metrics.collector';
import { EvaluationReportWriter } from './evaluation-report.writer';
import { EvaluationRunner } from './evaluation.runner';
import { EvaluationsController } from './evaluations.controller';
import { EvaluationsGateway } from './evaluations.gateway';
import { EvaluationsService } from './evaluations.service';
import { PromotionGateController } from './promotion-gate.controller';
import { PromotionGateService } from './promotion-gate.service';

/**
 * Evaluations (issue 14, ADR 0016): runs of a model version on a dataset through the real queue,
 * their reports and comparisons, socket.io /evaluations, and the promotion gate the rollout asks
 * before `promote` (exported; this module never imports the rollout).
 */
@Module({
  imports: [CatalogModule, JobsModule, DatasetsModule, MetricsModule],
  controllers: [EvaluationsController, PromotionGateController],
  providers: [
    EvaluationsService,
    EvaluationRunner,
    EvaluationReportWriter,
    EvaluationsGateway,
    PromotionGateService,
    EvaluationMetricsCollector,
  ],
  exports: [PromotionGateService],
})
export class EvaluationsModule {}
