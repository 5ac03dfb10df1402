import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AuditLogStore, type AuditRecord } from '@fathom/database';
import { RequireScopes } from '../auth/scopes.decorator';
import { AuditPageDto, auditQuerySchema } from './dto/keys.dto';

/** The audit log: keys created and revoked, rollout changes; who, when, in which trace. */
@ApiTags('keys')
@ApiBearerAuth()
@RequireScopes('keys:admin')
@Controller('v1/audit')
export class AuditController {
  constructor(@Inject(AuditLogStore) private readonly audit: AuditLogStore) {}

  @Get()
  @ApiOperation({ summary: 'Audit log entries, newest first' })
  @ApiQuery({ name: 'limit', required: false, description: 'Entries per page, 1–500 (default 50)' })
  @ApiQuery({ name: 'before', required: false, description: 'The `next` of the previous page: entries older than that one' })
  @ApiResponse({ status: 200, type: AuditPageDto })
  async list(@Query() query: unknown): Promise<{ entries: AuditRecord[]; next: string | null }> {
    const { limit, before } = auditQuerySchema.parse(query);
    const entries = await this.audit.list(limit, before);
    return { entries, next: entries.length === limit ? entries[entries.length - 1]!.id : null };
  }
}
