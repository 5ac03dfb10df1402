import { Module } from '@nestjs/common';
import { CatalogModule } from './catalog/catalog.module';
import { RolloutModule } from './rollout/rollout.module';

/**
 * Models: the catalog (what is served, how a reference resolves, GET /v1/models) and the rollout
 * that moves a model's aliases and weights. The dependency goes one way, rollout → catalog; both
 * read rollout state through RolloutStore (infrastructure), which is how a change reaches resolution.
 */
@Module({
  imports: [CatalogModule, RolloutModule],
  exports: [CatalogModule],
})
export class ModelsModule {}
