import { Controller, Headers, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiHeader, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FathomError } from '@fathom/contracts';
import { RequireScopes } from '../auth/scopes.decorator';
import { ErrorBodyDto } from '../common/dto/error-body.dto';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { QueueRegistry } from '../infrastructure/queue.registry';
import { JobAcceptedDto } from './dto/job.dto';
import { UPLOAD_FORM_SCHEMA } from './dto/upload-form.schema';
import { JobReader } from './job-reader.service';
import { JobSubmitter } from './job-submitter.service';
import { sendArtifact } from './send-artifact';
import { submitUpload } from './submit-upload';
import { DEADLINE_HEADER_DESCRIPTION } from './uploads/deadline';

/**
 * The synchronous convenience: the same job path, but the request waits for the artifact. When the
 * job takes longer than API_INFER_TIMEOUT_MS it answers 202 with the job's links, and the job goes on.
 */
@ApiTags('jobs')
@Controller('v1/infer')
export class InferController {
  constructor(
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(JobSubmitter) private readonly submitter: JobSubmitter,
    @Inject(JobReader) private readonly reader: JobReader,
    @Inject(QueueRegistry) private readonly queues: QueueRegistry,
  ) {}

  @Post()
  @RequireScopes('jobs:write')
  @ApiOperation({ summary: 'Submit and wait for the artifact' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ schema: UPLOAD_FORM_SCHEMA })
  @ApiProduces('image/png', 'application/json')
  @ApiHeader({ name: 'X-Deadline', required: false, description: DEADLINE_HEADER_DESCRIPTION })
  @ApiResponse({ status: 200, description: 'The artifact bytes.' })
  @ApiResponse({ status: 202, type: JobAcceptedDto, description: 'Not done in time; poll or subscribe.' })
  @ApiResponse({ status: 400, type: ErrorBodyDto })
  async infer(
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<void> {
    // The job's trace id is set now: the artifact, the 202 and the job's failure all answer with it.
    const submission = await submitUpload(this.submitter, request, reply, idempotencyKey);
    const { id } = submission.accepted;
    const events = await this.queues.queueEvents(submission.queue);
    const job = await this.queues.queue(submission.queue).getJob(id);
    // waitUntilFinished rejects on failure and on timeout alike; the job's state tells them apart.
    await job?.waitUntilFinished(events, this.config.API_INFER_TIMEOUT_MS).catch(() => undefined);
    const snapshot = await this.reader.snapshot(id);
    const { status } = snapshot;
    if (status.state === 'completed') {
      const { bytes, artifact } = await this.reader.result(id, undefined, snapshot);
      await sendArtifact(reply, id, bytes, artifact, false);
      return;
    }
    if (status.state === 'failed' && status.error) throw new FathomError(status.error.code, status.error.message, { jobId: id });
    await reply.status(202).header('Location', status.links.self).send({ id, state: status.state, links: status.links });
  }
}
