import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { PromotionGate } from '@fathom/contracts';
import { CurrentPrincipal } from '../auth/principal.decorator';
import type { Principal } from '../auth/principal';
import { RequireScopes } from '../auth/scopes.decorator';
import { ErrorBodyDto } from '../common/dto/error-body.dto';
import { PromotionGateService } from './promotion-gate.service';

/** A model's promotion gate (models:admin): what a canary must meet against stable before `promote`. */
@ApiTags('admin')
@ApiBearerAuth()
@ApiResponse({ status: 401, type: ErrorBodyDto, description: 'No API key, or an unknown or revoked one.' })
@ApiResponse({ status: 403, type: ErrorBodyDto, description: 'The key lacks the models:admin scope.' })
@RequireScopes('models:admin')
@Controller('v1/admin/models')
export class PromotionGateController {
  constructor(@Inject(PromotionGateService) private readonly gates: PromotionGateService) {}

  @Get(':name/gate')
  @ApiOperation({
    summary: "The gate in force for the current canary: set here, or the canary's manifest's `evaluation.gate`; null when none",
  })
  async get(@Param('name') name: string): Promise<{ gate: PromotionGate | null; source: 'admin' | 'manifest' | null }> {
    return (await this.gates.inForce(name, await this.gates.canaryOf(name))) ?? { gate: null, source: null };
  }

  @Put(':name/gate')
  @ApiOperation({
    summary: 'Set the gate: {"dataset":"middlebury-motorcycle","metric":"absRel","margin":0.01} (margin in the metric\'s units)',
  })
  set(@Param('name') name: string, @Body() body: unknown, @CurrentPrincipal() { keyId }: Principal): Promise<PromotionGate> {
    return this.gates.set(name, body, keyId);
  }

  @Delete(':name/gate')
  @HttpCode(204)
  @ApiOperation({ summary: "Remove the gate set here (a manifest's gate still applies)" })
  async remove(@Param('name') name: string, @CurrentPrincipal() { keyId }: Principal): Promise<void> {
    await this.gates.remove(name, keyId);
  }
}
