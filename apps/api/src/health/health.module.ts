import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CatalogModule } from '../models/catalog/catalog.module';
import { HealthController } from './health.controller';

/** GET /healthz (the process answers) and /readyz (Redis answers, a worker is alive). */
@Module({
  imports: [TerminusModule, CatalogModule],
  controllers: [HealthController],
})
export class HealthModule {}
