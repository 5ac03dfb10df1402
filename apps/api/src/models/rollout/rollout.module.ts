import { Module } from '@nestjs/common';
import { EvaluationsModule } from '../../evaluations/evaluations.module';
import { CatalogModule } from '../catalog/catalog.module';
import { AdminController } from './admin.controller';
import { RolloutService } from './rollout.service';

/** The rollout admin API (/v1/admin/models/:name/…). Depends on the catalog and on the evaluations' promotion gate; neither on it. GET :name is the deployments module's, which shows the rollout. */
@Module({
  imports: [CatalogModule, EvaluationsModule],
  controllers: [AdminController],
  providers: [RolloutService],
  exports: [RolloutService],
})
export class RolloutModule {}
