import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/principal.decorator';
import type { Principal } from '../auth/principal';
import { RequireScopes } from '../auth/scopes.decorator';
import { ErrorBodyDto } from '../common/dto/error-body.dto';
import { DriftService, type ReferenceView, type VersionDrift } from './drift.service';

/** GET /v1/models/:name/drift: what the web page and `npm run drift -- status` show. */
@ApiTags('models')
@Controller('v1/models')
export class DriftController {
  constructor(@Inject(DriftService) private readonly drift: DriftService) {}

  @Get(':name/drift')
  // Any valid key, as the model list.
  @RequireScopes()
  @ApiOperation({
    summary:
      "Each version's drift: its reference, its latest production window, PSI per feature with both histograms, and a score per side (input, output; above 0.2 is drift)",
  })
  @ApiResponse({ status: 404, type: ErrorBodyDto, description: 'model_not_found' })
  async get(@Param('name') name: string, @CurrentPrincipal() principal: Principal): Promise<{ model: string; versions: VersionDrift[] }> {
    const versions = await this.drift.modelDrift(name);
    const admin = !principal.authenticated || principal.scopes.includes('models:admin');
    if (admin) return { model: name, versions };
    // Where a reference came from (job ids, an evaluation, who set it) is an admin's business.
    return {
      model: name,
      versions: versions.map((v) => (v.reference ? { ...v, reference: { rows: v.reference.rows, createdAt: v.reference.createdAt } } : v)),
    };
  }
}

/** A model version's drift reference (models:admin). */
@ApiTags('admin')
@ApiBearerAuth()
@ApiResponse({ status: 401, type: ErrorBodyDto, description: 'No API key, or an unknown or revoked one.' })
@ApiResponse({ status: 403, type: ErrorBodyDto, description: 'The key lacks the models:admin scope.' })
@RequireScopes('models:admin')
@Controller('v1/admin/models')
export class DriftReferenceController {
  constructor(@Inject(DriftService) private readonly drift: DriftService) {}

  @Put(':name/versions/:version/drift-reference')
  @ApiOperation({
    summary:
      'Build the version\'s reference profile from {"source":{"evaluation":"<run id>"}}, {"source":{"jobs":["<id>",…]}} (images profiled with purpose=reference), {"source":{"from":"…","to":"…"}} or {"source":{"firstDays":7}} of its production log',
  })
  @ApiResponse({ status: 422, type: ErrorBodyDto, description: 'reference_too_small: fewer than 200 completed predictions with features' })
  set(
    @Param('name') name: string,
    @Param('version') version: string,
    @Body() body: unknown,
    @CurrentPrincipal() { keyId }: Principal,
  ): Promise<ReferenceView> {
    return this.drift.setReference(name, version, body, keyId);
  }

  @Get(':name/versions/:version/drift-reference')
  @ApiOperation({ summary: 'The reference profile: its source and each feature’s bins and shares' })
  get(@Param('name') name: string, @Param('version') version: string) {
    return this.drift.reference(name, version);
  }

  @Delete(':name/versions/:version/drift-reference')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove the reference: the version is no longer scored' })
  async remove(@Param('name') name: string, @Param('version') version: string, @CurrentPrincipal() { keyId }: Principal): Promise<void> {
    await this.drift.deleteReference(name, version, keyId);
  }
}
