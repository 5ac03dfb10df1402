import { Module } from '@nestjs/common';
import { CatalogModule } from '../models/catalog/catalog.module';
import { RolloutModule } from '../models/rollout/rollout.module';
import { DeploymentReconciler } from './deployment-reconciler.service';
import { DeploymentSync } from './deployment-sync.service';
import { DeploymentsController } from './deployments.controller';
import { DeploymentsGateway } from './deployments.gateway';
import { DeploymentsService } from './deployments.service';
import { WeightsPuller } from './weights-puller.service';
import { WeightsStorage } from './weights-storage';

/**
 * Deployments at runtime (/v1/admin/models, socket.io /deployments; ADR 0015): the registry in
 * PostgreSQL, its mirror in Redis for workers, the weights pulls and the reconciler. Uses the
 * catalog (live workers; resolution reads the registry) and the rollout (GET :name shows it).
 */
@Module({
  imports: [CatalogModule, RolloutModule],
  controllers: [DeploymentsController],
  providers: [DeploymentsService, DeploymentSync, DeploymentsGateway, WeightsStorage, WeightsPuller, DeploymentReconciler],
})
export class DeploymentsModule {}
