import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { auditEntrySchema } from '../../common/dto/audit-entry.dto';
import { keyLimitsSchema, scopeSchema } from '@fathom/contracts';

/** POST /v1/keys: who the key is for, what it may do, its own limits (unset: the API's defaults). */
export const createKeyBodySchema = z
  .object({
    owner: z.string().trim().min(1).max(200),
    name: z.string().trim().min(1).max(200).optional(),
    scopes: z.array(scopeSchema).min(1).max(10),
    limits: keyLimitsSchema.partial().strict().optional(),
  })
  .strict();

const keyViewSchema = z.object({
  id: z.string(),
  owner: z.string(),
  name: z.string().nullable(),
  scopes: z.array(scopeSchema),
  limits: keyLimitsSchema,
  createdAt: z.string(),
  createdBy: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
});

/** GET /v1/audit: newest first; `before` (an entry's id) pages on. */
export const auditQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z
    .string()
    .regex(/^[1-9][0-9]{0,17}$/, 'must be an entry id')
    .optional(),
});

export class CreateKeyDto extends createZodDto(createKeyBodySchema) {}
export class KeyDto extends createZodDto(keyViewSchema) {}
export class CreatedKeyDto extends createZodDto(keyViewSchema.extend({ key: z.string().describe('The key to send; shown only now.') })) {}
export class KeyListDto extends createZodDto(z.object({ keys: z.array(keyViewSchema) })) {}
export class AuditPageDto extends createZodDto(z.object({ entries: z.array(auditEntrySchema), next: z.string().nullable() })) {}
