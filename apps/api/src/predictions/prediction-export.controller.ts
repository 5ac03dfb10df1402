import { Controller, Get, Headers, Inject, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequireScopes } from '../auth/scopes.decorator';
import { ErrorBodyDto } from '../common/dto/error-body.dto';
import { EXPORT_FORMATS, negotiateFormat, parsePredictionQuery, PredictionPageDto, QUERY_DOCS } from './dto/prediction-query.dto';
import { PredictionExportService } from './prediction-export.service';

/** The prediction log (issue 15) for admins: a page of it, or all of it as NDJSON or CSV. */
@ApiTags('predictions')
@ApiBearerAuth()
@RequireScopes('models:admin')
@ApiResponse({ status: 401, type: ErrorBodyDto, description: 'No API key, or an unknown or revoked one.' })
@ApiResponse({ status: 403, type: ErrorBodyDto, description: 'The key lacks models:admin.' })
@Controller('v1/predictions')
export class PredictionExportController {
  constructor(@Inject(PredictionExportService) private readonly predictions: PredictionExportService) {}

  @Get()
  @ApiOperation({
    summary:
      'Finished jobs (completed, failed, cancelled) with their timings, input and output features and feedback, oldest first. JSON: a page {items, next}; send next as cursor for the following one. format=ndjson or csv (or Accept: application/x-ndjson, text/csv): the whole filtered log, streamed as an attachment',
  })
  @ApiProduces('application/json', 'application/x-ndjson', 'text/csv')
  @ApiQuery({ name: 'model', required: false, description: QUERY_DOCS.model })
  @ApiQuery({ name: 'version', required: false, description: QUERY_DOCS.version })
  @ApiQuery({ name: 'from', required: false, description: QUERY_DOCS.from })
  @ApiQuery({ name: 'to', required: false, description: QUERY_DOCS.to })
  @ApiQuery({ name: 'status', required: false, enum: ['completed', 'failed', 'cancelled'], description: QUERY_DOCS.status })
  @ApiQuery({ name: 'purpose', required: false, enum: ['production', 'evaluation', 'reference'], description: QUERY_DOCS.purpose })
  @ApiQuery({ name: 'limit', required: false, description: QUERY_DOCS.limit })
  @ApiQuery({ name: 'cursor', required: false, description: QUERY_DOCS.cursor })
  @ApiQuery({ name: 'format', required: false, enum: EXPORT_FORMATS, description: QUERY_DOCS.format })
  @ApiResponse({
    status: 200,
    type: PredictionPageDto,
    description: 'A JSON page; NDJSON: one row per line; CSV: a header row, then one row per line',
  })
  @ApiResponse({
    status: 400,
    type: ErrorBodyDto,
    description: 'invalid_request naming the parameter: a bad cursor, time, status, limit, or from not before to',
  })
  async list(@Query() query: unknown, @Headers('accept') accept: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    const parsed = parsePredictionQuery(query);
    const format = negotiateFormat(parsed.format, accept);
    void reply.header('Vary', 'Accept');
    if (format === 'json') {
      await reply.header('Content-Type', 'application/json; charset=utf-8').send(await this.predictions.page(parsed));
      return;
    }
    const { contentType, filename, body } = await this.predictions.export(parsed, format);
    await reply.header('Content-Type', contentType).header('Content-Disposition', `attachment; filename="${filename}"`).send(body);
  }
}
