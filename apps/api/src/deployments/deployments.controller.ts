import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DeploymentView } from '@fathom/contracts';
import type { DeploymentActor } from '@fathom/database';
import { activeTraceId } from '@fathom/telemetry';
import { CurrentPrincipal } from '../auth/principal.decorator';
import type { Principal } from '../auth/principal';
import { RequireScopes } from '../auth/scopes.decorator';
import { ErrorBodyDto } from '../common/dto/error-body.dto';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { DeploymentsService, type ModelDeployments } from './deployments.service';
import {
  DeploymentChangeDto,
  DeploymentDto,
  deploymentListQuerySchema,
  DeploymentListDto,
  ModelDeploymentsDto,
} from './dto/deployments.dto';
import { readRegistration } from './registration.reader';

/**
 * Deployments (ADR 0015): register a model version at runtime (a manifest, its weights uploaded or
 * by URL), follow it to serving, change its mutable fields, retire it. Every route needs
 * models:admin; every change is audited with the key, the trace and the client address.
 */
@ApiTags('admin')
@ApiBearerAuth()
@ApiResponse({ status: 401, type: ErrorBodyDto, description: 'No API key, or an unknown or revoked one.' })
@ApiResponse({ status: 403, type: ErrorBodyDto, description: 'The key lacks the models:admin scope.' })
@RequireScopes('models:admin')
@Controller('v1/admin/models')
export class DeploymentsController {
  constructor(
    @Inject(DeploymentsService) private readonly deployments: DeploymentsService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Register a model version: a manifest as JSON or YAML (weights { url, sha256 }), or multipart with a `manifest` field and the weights as file parts `weights`, `weights.<variant>`',
  })
  @ApiConsumes('application/json', 'application/yaml', 'multipart/form-data')
  @ApiResponse({ status: 202, type: DeploymentDto, description: 'Accepted: follow it at `links.self` or on socket.io /deployments' })
  @ApiResponse({ status: 400, type: ErrorBodyDto, description: 'invalid_manifest, naming the field' })
  @ApiResponse({ status: 409, type: ErrorBodyDto, description: 'deployment_exists: that name@version is registered and not retired' })
  @ApiResponse({ status: 413, type: ErrorBodyDto, description: 'weights_too_large (API_MAX_WEIGHTS_BYTES)' })
  async register(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
  ): Promise<DeploymentView> {
    const registration = await readRegistration(request, this.config.API_MAX_WEIGHTS_BYTES);
    try {
      const view = await this.deployments.register(registration, actorOf(principal, request));
      void reply.header('Location', view.links.self);
      return view;
    } finally {
      await registration.cleanup();
    }
  }

  @Get()
  @ApiOperation({ summary: 'Deployments, newest first (every state, or ?state=)' })
  @ApiQuery({ name: 'state', required: false, description: 'pending, pulling, warming, serving, failed, retiring or retired' })
  @ApiQuery({ name: 'limit', required: false, description: '1–500 (default 100)' })
  @ApiResponse({ status: 200, type: DeploymentListDto })
  async list(@Query() query: unknown): Promise<{ deployments: DeploymentView[] }> {
    const { state, limit } = deploymentListQuerySchema.parse(query);
    return { deployments: await this.deployments.list(state, limit) };
  }

  @Get(':name')
  @ApiOperation({
    summary:
      "A model: versions and the workers serving each, aliases, traffic weights, the rollout's log, every deployment and its audit history",
  })
  @ApiResponse({ status: 200, type: ModelDeploymentsDto })
  describe(@Param('name') name: string): Promise<ModelDeployments> {
    return this.deployments.describe(name);
  }

  @Get(':name/:version')
  @ApiOperation({ summary: 'One version’s deployment: its state (with the reason of a failure) and each live worker’s report' })
  @ApiResponse({ status: 200, type: DeploymentDto })
  @ApiResponse({ status: 404, type: ErrorBodyDto, description: 'deployment_not_found' })
  get(@Param('name') name: string, @Param('version') version: string): Promise<DeploymentView> {
    return this.deployments.get(name, version);
  }

  @Put(':name/:version')
  @ApiOperation({
    summary: 'Change what may change in place: description, defaults, batching, selector, replicas (anything else: a new version)',
  })
  @ApiBody({ type: DeploymentChangeDto })
  @ApiResponse({ status: 200, type: DeploymentDto })
  update(
    @Param('name') name: string,
    @Param('version') version: string,
    @Body() body: unknown,
    @Req() request: FastifyRequest,
    @CurrentPrincipal() principal: Principal,
  ): Promise<DeploymentView> {
    return this.deployments.update(name, version, body, actorOf(principal, request));
  }

  @Delete(':name/:version')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Retire a version: no new jobs at once, its queue drains (or ?drain=false: its waiting jobs fail model_retired), then workers unload it',
  })
  @ApiQuery({ name: 'drain', required: false, description: 'false: fail the waiting jobs with model_retired instead of running them' })
  @ApiResponse({ status: 202, type: DeploymentDto })
  @ApiResponse({ status: 409, type: ErrorBodyDto, description: 'deployment_in_use: an alias points at the version' })
  retire(
    @Param('name') name: string,
    @Param('version') version: string,
    @Req() request: FastifyRequest,
    @CurrentPrincipal() principal: Principal,
    @Query('drain') drain?: string,
  ): Promise<DeploymentView> {
    return this.deployments.retire(name, version, drain !== 'false', actorOf(principal, request));
  }
}

function actorOf(principal: Principal, request: FastifyRequest): DeploymentActor {
  return { actor: principal.keyId, traceId: activeTraceId() ?? null, address: request.ip };
}
