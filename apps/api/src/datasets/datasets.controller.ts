import { Controller, Get, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiConsumes, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ChangeActor } from '@fathom/database';
import { activeTraceId } from '@fathom/telemetry';
import { CurrentPrincipal } from '../auth/principal.decorator';
import type { Principal } from '../auth/principal';
import { RequireScopes } from '../auth/scopes.decorator';
import { ErrorBodyDto } from '../common/dto/error-body.dto';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { readDatasetArchive } from './dataset-archive.reader';
import { DatasetsService, type BuiltinDatasetListing, type DatasetDetail } from './datasets.service';
import { DatasetDetailDto, DatasetListDto } from './dto/datasets.dto';
import type { DatasetView } from '@fathom/contracts';

/**
 * Datasets for evaluation (issue 14): upload one as a .tar, .tar.gz or .zip (models:admin,
 * audited), list and read them (jobs:read, as a client that runs evaluations needs).
 */
@ApiTags('datasets')
@ApiBearerAuth()
@ApiResponse({ status: 401, type: ErrorBodyDto, description: 'No API key, or an unknown or revoked one.' })
@ApiResponse({ status: 403, type: ErrorBodyDto, description: 'The key lacks the scope the route needs.' })
@Controller('v1/datasets')
export class DatasetsController {
  constructor(
    @Inject(DatasetsService) private readonly datasets: DatasetsService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  @Post()
  @HttpCode(201)
  @RequireScopes('models:admin')
  @ApiOperation({
    summary:
      'Register a dataset: multipart with the archive (.tar, .tar.gz or .zip of a folder with dataset.yaml) in the `archive` field; its kind is read from its bytes',
  })
  @ApiConsumes('multipart/form-data')
  @ApiResponse({ status: 201, type: DatasetDetailDto, description: 'Registered; `Location` is its URL' })
  @ApiResponse({
    status: 400,
    type: ErrorBodyDto,
    description: 'invalid_dataset, naming the file and the field (details.file, details.field)',
  })
  @ApiResponse({ status: 409, type: ErrorBodyDto, description: 'dataset_exists: that name@version is registered; bump the version' })
  @ApiResponse({ status: 413, type: ErrorBodyDto, description: 'dataset_too_large (API_MAX_DATASET_BYTES, packed or unpacked)' })
  async upload(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
  ): Promise<DatasetDetail> {
    const archive = await readDatasetArchive(request, this.config.API_MAX_DATASET_BYTES);
    try {
      const detail = await this.datasets.upload(archive, actorOf(principal, request));
      void reply.header('Location', `/v1/datasets/${encodeURIComponent(detail.name)}/${encodeURIComponent(detail.version)}`);
      return detail;
    } finally {
      await archive.cleanup();
    }
  }

  @Get()
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: 'Registered datasets (each name’s newest version first) and the built-ins, registered on first use' })
  @ApiResponse({ status: 200, type: DatasetListDto })
  list(): Promise<{ datasets: DatasetView[]; builtins: BuiltinDatasetListing[] }> {
    return this.datasets.list();
  }

  @Get(':name')
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: 'The latest registered version of a dataset, with its samples’ ids' })
  @ApiResponse({ status: 200, type: DatasetDetailDto })
  @ApiResponse({ status: 404, type: ErrorBodyDto, description: 'dataset_not_found' })
  latest(@Param('name') name: string): Promise<DatasetDetail> {
    return this.datasets.detail(name);
  }

  @Get(':name/:version')
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: 'One version of a dataset, with its samples’ ids' })
  @ApiResponse({ status: 200, type: DatasetDetailDto })
  @ApiResponse({ status: 404, type: ErrorBodyDto, description: 'dataset_not_found' })
  get(@Param('name') name: string, @Param('version') version: string): Promise<DatasetDetail> {
    return this.datasets.detail(name, version);
  }
}

function actorOf(principal: Principal, request: FastifyRequest): ChangeActor {
  return { actor: principal.keyId, traceId: activeTraceId() ?? null, address: request.ip };
}
