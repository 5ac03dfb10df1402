import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { AdminController } from './admin.controller';
import { RolloutService } from './rollout.service';

/** The rollout admin API (/v1/admin/models). Depends on the catalog; the catalog never on it. */
@Module({
  imports: [CatalogModule],
  controllers: [AdminController],
  providers: [RolloutService],
})
export class RolloutModule {}
