import { Module } from '@nestjs/common';
import { JobsModule } from '../jobs/jobs.module';
import { MetricsModule } from '../metrics/metrics.module';
import { JobAudience } from './job-audience.store';
import { JobEventsRelay } from './job-events.relay';
import { JobsGateway } from './jobs.gateway';

/** socket.io /jobs: subscriptions to a job's events, and the relay of worker events to them. */
@Module({
  imports: [JobsModule, MetricsModule],
  providers: [JobsGateway, JobEventsRelay, JobAudience],
})
export class RealtimeModule {}
