import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiKeyStore, type ApiKeyView, type CreatedApiKey } from '@fathom/database';
import { activeTraceId } from '@fathom/telemetry';
import type { Principal } from '../auth/principal';
import { CurrentPrincipal } from '../auth/principal.decorator';
import { RequireScopes } from '../auth/scopes.decorator';
import { ErrorBodyDto } from '../common/dto/error-body.dto';
import { createKeyBodySchema, CreatedKeyDto, CreateKeyDto, KeyDto, KeyListDto } from './dto/keys.dto';

/** API keys: create (the secret is shown once), list, read, revoke. Every route needs keys:admin. */
@ApiTags('keys')
@ApiBearerAuth()
@ApiResponse({ status: 401, type: ErrorBodyDto, description: 'No API key, or an unknown or revoked one.' })
@ApiResponse({ status: 403, type: ErrorBodyDto, description: 'The key lacks the keys:admin scope.' })
@RequireScopes('keys:admin')
@Controller('v1/keys')
export class KeysController {
  constructor(@Inject(ApiKeyStore) private readonly keys: ApiKeyStore) {}

  @Post()
  @ApiOperation({ summary: 'Create a key; the answer is the only place its secret (`key`) appears' })
  @ApiBody({ type: CreateKeyDto })
  @ApiResponse({ status: 201, type: CreatedKeyDto })
  create(@Body() body: unknown, @CurrentPrincipal() principal: Principal): Promise<CreatedApiKey> {
    const spec = createKeyBodySchema.parse(body);
    return this.keys.create(spec, { actor: principal.keyId, traceId: activeTraceId() ?? null });
  }

  @Get()
  @ApiOperation({ summary: 'Every key, newest first, revoked ones included (never a secret)' })
  @ApiResponse({ status: 200, type: KeyListDto })
  async list(): Promise<{ keys: ApiKeyView[] }> {
    return { keys: await this.keys.list() };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One key (never its secret)' })
  @ApiResponse({ status: 200, type: KeyDto })
  @ApiResponse({ status: 404, type: ErrorBodyDto, description: 'key_not_found' })
  get(@Param('id') id: string): Promise<ApiKeyView> {
    return this.keys.get(id);
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a key: every instance refuses it within API_KEY_CACHE_MS' })
  @ApiResponse({ status: 200, type: KeyDto })
  @ApiResponse({ status: 404, type: ErrorBodyDto, description: 'key_not_found' })
  revoke(@Param('id') id: string, @CurrentPrincipal() principal: Principal): Promise<ApiKeyView> {
    return this.keys.revoke(id, { actor: principal.keyId, traceId: activeTraceId() ?? null });
  }
}
