import { Controller, Delete, Get, Headers, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiHeader, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JobAccepted, JobStatus } from '@fathom/contracts';
import type { Principal } from '../auth/principal';
import { CurrentPrincipal } from '../auth/principal.decorator';
import { RequireScopes } from '../auth/scopes.decorator';
import { ErrorBodyDto } from '../common/dto/error-body.dto';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { JobAcceptedDto, JobStatusDto } from './dto/job.dto';
import { UPLOAD_FORM_SCHEMA } from './dto/upload-form.schema';
import { JobCanceller } from './job-canceller.service';
import { JobReader } from './job-reader.service';
import { JobSubmitter } from './job-submitter.service';
import { sendArtifact } from './send-artifact';
import { submitUpload } from './submit-upload';
import { DEADLINE_HEADER_DESCRIPTION } from './uploads/deadline';
import { setTraceIdHeader } from './trace-id-header';

@ApiTags('jobs')
@Controller('v1/jobs')
export class JobsController {
  constructor(
    @Inject(JobSubmitter) private readonly submitter: JobSubmitter,
    @Inject(JobReader) private readonly reader: JobReader,
    @Inject(JobCanceller) private readonly canceller: JobCanceller,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  @Post()
  @RequireScopes('jobs:write')
  @HttpCode(202)
  @ApiOperation({ summary: 'Submit an image for inference' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ schema: UPLOAD_FORM_SCHEMA })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'The same key returns the same job.' })
  @ApiHeader({ name: 'X-Deadline', required: false, description: DEADLINE_HEADER_DESCRIPTION })
  @ApiResponse({ status: 202, type: JobAcceptedDto, description: 'Accepted and queued.' })
  @ApiResponse({
    status: 400,
    type: ErrorBodyDto,
    description: 'A field is missing or invalid, or the form has more fields or files than it takes (too_many_fields, too_many_files).',
  })
  @ApiResponse({ status: 404, type: ErrorBodyDto, description: 'No worker serves that model.' })
  @ApiResponse({ status: 413, type: ErrorBodyDto, description: 'Too many bytes (image_too_large, options_too_large) or pixels.' })
  @ApiResponse({ status: 415, type: ErrorBodyDto, description: 'Not an image we decode.' })
  @ApiResponse({
    status: 429,
    type: ErrorBodyDto,
    description: "Over the key's limits: rate_limited (requests per second) or quota_exceeded (jobs queued or running); see Retry-After.",
  })
  @ApiResponse({ status: 503, type: ErrorBodyDto, description: 'The queue is full; see Retry-After.' })
  async submit(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<JobAccepted> {
    const submission = await submitUpload(this.submitter, request, reply, idempotencyKey);
    void reply.header('Location', submission.accepted.links.self);
    if (submission.replayed) void reply.header('Idempotent-Replayed', 'true');
    return submission.accepted;
  }

  @Get(':id')
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: "A job's state, progress, timings and result summary" })
  @ApiResponse({ status: 200, type: JobStatusDto })
  @ApiResponse({ status: 400, type: ErrorBodyDto, description: 'Not a job id (invalid_job_id: longer than 100 characters).' })
  @ApiResponse({ status: 404, type: ErrorBodyDto, description: 'No such job, or another key’s.' })
  @ApiResponse({ status: 410, type: ErrorBodyDto, description: 'Expired after the retention period.' })
  async status(
    @Param('id') id: string,
    @CurrentPrincipal() { keyId }: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<JobStatus> {
    const status = await this.reader.status(id, keyId);
    setTraceIdHeader(reply, status.traceId);
    return status;
  }

  @Get(':id/result')
  @RequireScopes('jobs:read')
  @ApiOperation({ summary: 'Download an artifact (image/png for maps and masks, application/json for labels, boxes and shares)' })
  @ApiProduces('image/png', 'application/json')
  @ApiQuery({ name: 'download', required: false, description: '1 adds Content-Disposition: attachment' })
  @ApiQuery({
    name: 'artifact',
    required: false,
    description: 'Which artifact (see the status’s result.artifacts); default: the primary one',
  })
  @ApiResponse({ status: 200, description: 'The artifact bytes.' })
  @ApiResponse({ status: 302, description: 'With API_RESULT_REDIRECT_SECONDS: a presigned URL of the artifact in the bucket.' })
  @ApiResponse({ status: 409, type: ErrorBodyDto, description: 'Not ready yet, or the job failed.' })
  @ApiResponse({ status: 410, type: ErrorBodyDto })
  async result(
    @Param('id') id: string,
    @Query('download') download: string | undefined,
    @Query('artifact') artifact: string | undefined,
    @CurrentPrincipal() { keyId }: Principal,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const asAttachment = download === '1' || download === 'true';
    const redirectSeconds = this.config.API_RESULT_REDIRECT_SECONDS;
    const url = redirectSeconds > 0 ? await this.reader.resultUrl(id, artifact, keyId, redirectSeconds, asAttachment) : null;
    if (url) {
      // The link expires; a cache must ask again rather than keep it.
      await reply.header('Cache-Control', 'no-store').header('X-Fathom-Job-Id', id).redirect(url, 302);
      return;
    }
    const found = await this.reader.result(id, artifact, undefined, keyId);
    await sendArtifact(reply, id, found.bytes, found.artifact, asAttachment);
  }

  @Delete(':id')
  @RequireScopes('jobs:write')
  @ApiOperation({ summary: 'Cancel a queued job' })
  @ApiResponse({ status: 200, type: JobStatusDto })
  @ApiResponse({ status: 409, type: ErrorBodyDto, description: 'The job is running or finished.' })
  async cancel(
    @Param('id') id: string,
    @CurrentPrincipal() { keyId }: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<JobStatus> {
    const status = await this.canceller.cancel(id, keyId);
    setTraceIdHeader(reply, status.traceId);
    return status;
  }
}
