import { Body, Controller, Delete, HttpCode, Inject, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { aliasNameSchema, setAliasBodySchema, setWeightsBodySchema, type RolloutChange } from '@fathom/contracts';
import { CurrentPrincipal } from '../../auth/principal.decorator';
import type { Principal } from '../../auth/principal';
import { RequireScopes } from '../../auth/scopes.decorator';
import { ErrorBodyDto } from '../../common/dto/error-body.dto';
import { SetAliasDto, SetWeightsDto } from './dto/rollout.dto';
import { RolloutService } from './rollout.service';

/** The rollout admin API: every route needs the models:admin scope; every change is logged and audited with the key's id. */
@ApiTags('admin')
@ApiBearerAuth()
@ApiResponse({ status: 401, type: ErrorBodyDto, description: 'No API key, or an unknown or revoked one.' })
@ApiResponse({ status: 403, type: ErrorBodyDto, description: 'The key lacks the models:admin scope.' })
@RequireScopes('models:admin')
@Controller('v1/admin/models')
export class AdminController {
  constructor(@Inject(RolloutService) private readonly rollout: RolloutService) {}

  @Put(':name/aliases/:alias')
  @ApiOperation({ summary: 'Point stable or canary at a version' })
  @ApiBody({ type: SetAliasDto })
  @ApiQuery({ name: 'force', required: false, description: 'true: make stable a version no live worker serves' })
  setAlias(
    @Param('name') name: string,
    @Param('alias') alias: string,
    @Body() body: unknown,
    @CurrentPrincipal() { keyId }: Principal,
    @Query('force') force?: string,
  ): Promise<RolloutChange> {
    return this.rollout.setAlias(name, aliasNameSchema.parse(alias), setAliasBodySchema.parse(body).version, keyId, force === 'true');
  }

  @Delete(':name/aliases/canary')
  @ApiOperation({ summary: 'Drop the canary: all traffic to stable' })
  removeCanary(@Param('name') name: string, @CurrentPrincipal() { keyId }: Principal): Promise<RolloutChange> {
    return this.rollout.removeCanary(name, keyId);
  }

  @Put(':name/weights')
  @ApiOperation({ summary: 'Split unpinned traffic between stable and canary, e.g. {"stable":90,"canary":10}' })
  @ApiBody({ type: SetWeightsDto })
  setWeights(@Param('name') name: string, @Body() body: unknown, @CurrentPrincipal() { keyId }: Principal): Promise<RolloutChange> {
    return this.rollout.setWeights(name, setWeightsBodySchema.parse(body), keyId);
  }

  @Post(':name/promote')
  @HttpCode(200)
  @ApiOperation({ summary: 'The canary becomes stable, with all traffic' })
  @ApiQuery({
    name: 'force',
    required: false,
    description: 'true: promote a canary no live worker serves, or past its promotion gate (then with {"reason": "…"}, kept in the log)',
  })
  @ApiResponse({
    status: 409,
    type: ErrorBodyDto,
    description: "promotion_refused: the canary is worse than stable beyond the gate's margin (figures in details)",
  })
  promote(
    @Param('name') name: string,
    @CurrentPrincipal() { keyId }: Principal,
    @Query('force') force?: string,
    @Body() body?: unknown,
  ): Promise<RolloutChange> {
    const reason = (body as { reason?: unknown } | undefined)?.reason;
    return this.rollout.promote(name, keyId, force === 'true', typeof reason === 'string' ? reason : undefined);
  }

  @Post(':name/rollback')
  @HttpCode(200)
  @ApiOperation({ summary: 'Stable returns to the version before the last promotion or move, with all traffic' })
  @ApiQuery({ name: 'force', required: false, description: 'true: roll back to a version no live worker serves' })
  rollback(@Param('name') name: string, @CurrentPrincipal() { keyId }: Principal, @Query('force') force?: string): Promise<RolloutChange> {
    return this.rollout.rollback(name, keyId, force === 'true');
  }
}
