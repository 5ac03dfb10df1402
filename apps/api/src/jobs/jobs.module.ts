import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { CatalogModule } from '../models/catalog/catalog.module';
import { InferController } from './infer.controller';
import { JobCanceller } from './job-canceller.service';
import { JobReader } from './job-reader.service';
import { JobSubmitter } from './job-submitter.service';
import { JobsController } from './jobs.controller';
import { ImageInspector } from './uploads/image-inspector';

/** Jobs: submit an upload (POST /v1/jobs, /v1/infer), read its status and result, cancel it. */
@Module({
  imports: [CatalogModule, MetricsModule],
  controllers: [JobsController, InferController],
  providers: [JobSubmitter, JobReader, JobCanceller, ImageInspector],
  exports: [JobReader, JobSubmitter, JobCanceller],
})
export class JobsModule {}
