import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { auditEntrySchema } from '../../common/dto/audit-entry.dto';
import { deploymentMutableSchema, deploymentStateSchema, deploymentViewSchema } from '@fathom/contracts';

/** GET /v1/admin/models: newest first, optionally in one state. */
export const deploymentListQuerySchema = z
  .object({
    state: deploymentStateSchema.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

export class DeploymentDto extends createZodDto(deploymentViewSchema) {}
export class DeploymentListDto extends createZodDto(z.object({ deployments: z.array(deploymentViewSchema) })) {}
export class DeploymentChangeDto extends createZodDto(deploymentMutableSchema) {}
export class ModelDeploymentsDto extends createZodDto(
  z.object({
    name: z.string(),
    task: z.string(),
    versions: z.array(z.object({ version: z.string(), workers: z.number().int(), variants: z.array(z.string()) })),
    aliases: z.object({ stable: z.string().nullable(), canary: z.string().nullable() }),
    weights: z.object({ stable: z.number(), canary: z.number() }),
    history: z.array(z.string()),
    log: z.array(z.record(z.string(), z.unknown())),
    deployments: z.array(deploymentViewSchema),
    audit: z.array(auditEntrySchema),
  }),
) {}
