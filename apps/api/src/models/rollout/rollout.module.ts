import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { AdminController } from './admin.controller';
import { RolloutService } from './rollout.service';

/** The rollout admin API (/v1/admin/models/:name/…). Depends on the catalog; the catalog never on it. GET :name is the deployments module's, which shows the rollout. */
@Module({
  imports: [CatalogModule],
  controllers: [AdminController],
  providers: [RolloutService],
  exports: [RolloutService],
})
export class RolloutModule {}
