import { Module } from '@nestjs/common';
import { DatasetsController } from './datasets.controller';
import { DatasetsService } from './datasets.service';

/**
 * Datasets for evaluation (issue 14): POST/GET /v1/datasets. Exports DatasetsService, whose
 * `ensure` resolves the dataset an evaluation names (registering a built-in on first use) and
 * whose `filesOf` reads a registered dataset's files from the object store.
 */
@Module({
  controllers: [DatasetsController],
  providers: [DatasetsService],
  exports: [DatasetsService],
})
export class DatasetsModule {}
