import { z } from 'zod';

/** One audit log entry as the API shows it (GET /v1/audit, GET /v1/admin/models/:name): libs/database's AuditRecord. */
export const auditEntrySchema = z.object({
  id: z.string(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  targetType: z.string(),
  targetId: z.string(),
  details: z.record(z.string(), z.unknown()),
  traceId: z.string().nullable(),
  address: z.string().nullable().optional().describe('The client address the change came from (absent for the keys CLI)'),
});
