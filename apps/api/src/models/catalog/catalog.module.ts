import { Module } from '@nestjs/common';
import { ModelsController } from './models.controller';
import { ServedModelsService } from './served-models.service';

/** What is served and declared, and where a model reference goes (GET /v1/models; the resolver jobs use). */
@Module({
  controllers: [ModelsController],
  providers: [ServedModelsService],
  exports: [ServedModelsService],
})
export class CatalogModule {}
