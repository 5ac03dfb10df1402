import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { compareBodySchema, createEvaluationBodySchema, type ComparisonView, type EvaluationView } from '@fathom/contracts';
import { REPORT_CSP } from '@fathom/evaluation';
import { CurrentPrincipal } from '../auth/principal.decorator';
import type { Principal } from '../auth/principal';
import { RequireScopes } from '../auth/scopes.decorator';
import { ErrorBodyDto } from '../common/dto/error-body.dto';
import { EvaluationsService } from './evaluations.service';

const listQuerySchema = z.object({
  model: z.string().min(1).optional(),
  dataset: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** Evaluations (issue 14): a model version's quality on a dataset, measured through the real queue. */
@ApiTags('evaluations')
@ApiBearerAuth()
@ApiResponse({ status: 401, type: ErrorBodyDto, description: 'No API key, or an unknown or revoked one.' })
@ApiResponse({
  status: 403,
  type: ErrorBodyDto,
  description: 'The key lacks the scope the route needs (jobs:write to start, jobs:read to read).',
})
@Controller('v1/evaluations')
export class EvaluationsController {
  constructor(@Inject(EvaluationsService) private readonly evaluations: EvaluationsService) {}

  @Post()
  @RequireScopes('jobs:write')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Evaluate a model version on a dataset: {"dataset":"text-lines","model":"ocr-det@canary"}. Every sample runs as a job through the queue, behind user jobs; follow it at links.self or on socket.io /evaluations',
  })
  @ApiResponse({ status: 202, description: 'Started' })
  @ApiResponse({ status: 200, description: 'reuse: true and a completed run of this dataset version and model version exists' })
  @ApiResponse({ status: 404, type: ErrorBodyDto, description: 'dataset_not_found or model_not_found' })
  async create(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<EvaluationView> {
    const { view, reused } = await this.evaluations.create(createEvaluationBodySchema.parse(body ?? {}), principal);
    void reply.header('Location', view.links.self);
    if (reused) void reply.status(200);
    return view;
  }

  @Post('compare')
  @RequireScopes('jobs:write')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Compare two versions on a dataset ({"dataset":…, "a":"depth@stable", "b":"depth@canary"}): paired per-sample deltas with bootstrap 95 % intervals and a verdict per metric. 202 with the runs while they are still going: POST again when they end',
  })
  @ApiResponse({ status: 202, description: 'The runs being waited for' })
  async compare(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ComparisonView | { state: 'running'; evaluations: EvaluationView[] }> {
    const outcome = await this.evaluations.compare(compareBodySchema.parse(body ?? {}), principal);
    if (outcome.ready) return outcome.comparison;
    void reply.status(202);
    return { state: 'running', evaluations: outcome.evaluations };
  }

  @Get()
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: 'Evaluations, newest first (?model=name, ?dataset=name)' })
  @ApiQuery({ name: 'model', required: false })
  @ApiQuery({ name: 'dataset', required: false })
  @ApiQuery({ name: 'limit', required: false, description: '1–500 (default 50)' })
  async list(@Query() query: unknown, @CurrentPrincipal() principal: Principal): Promise<{ evaluations: EvaluationView[] }> {
    return { evaluations: await this.evaluations.list(listQuerySchema.parse(query), principal) };
  }

  @Get(':id')
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: 'An evaluation: state, progress, metrics, per-class details, latency per stage, throughput' })
  @ApiResponse({ status: 404, type: ErrorBodyDto, description: 'evaluation_not_found' })
  get(@Param('id') id: string, @CurrentPrincipal() principal: Principal): Promise<EvaluationView> {
    return this.evaluations.get(id, principal);
  }

  @Get(':id/report')
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: 'The self-contained HTML report (worst samples as input / prediction / ground truth / error map)' })
  @ApiResponse({ status: 409, type: ErrorBodyDto, description: 'evaluation_not_finished' })
  async report(@Param('id') id: string, @CurrentPrincipal() principal: Principal, @Res() reply: FastifyReply): Promise<void> {
    const html = await this.evaluations.report(id, principal);
    await reply.header('Content-Type', 'text/html; charset=utf-8').header('Content-Security-Policy', REPORT_CSP).send(html);
  }

  @Get(':id/samples')
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: "Every sample's metrics, job id, error and timings, one JSON object per line (also while running)" })
  async samples(@Param('id') id: string, @CurrentPrincipal() principal: Principal, @Res() reply: FastifyReply): Promise<void> {
    const lines = await this.evaluations.samples(id, principal);
    await reply.header('Content-Type', 'application/x-ndjson; charset=utf-8').send(lines);
  }

  @Delete(':id')
  @RequireScopes('jobs:write')
  @HttpCode(202)
  @ApiOperation({ summary: 'Cancel a run: its queued jobs are cancelled, it ends `cancelled` with what it scored' })
  cancel(@Param('id') id: string, @CurrentPrincipal() principal: Principal): Promise<EvaluationView> {
    return this.evaluations.cancel(id, principal);
  }
}
