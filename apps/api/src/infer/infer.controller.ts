import { Controller, Headers, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FathomError } from '@fathom/contracts';
import { ErrorBodyDto, JobAcceptedDto, UPLOAD_FORM_SCHEMA } from '../api-docs';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { JobReader } from '../jobs/job-reader.service';
import { JobSubmitter } from '../jobs/job-submitter.service';
import { sendArtifact } from '../jobs/send-artifact';
import { setTraceIdHeader } from '../jobs/trace-id-header';
import { QueueRegistry } from '../queues/queue.registry';
import { markUploadAccepted } from '../uploads/accepted-uploads';
import { readTracedUploadForm } from '../uploads/upload-form.reader';

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
  @ApiOperation({ summary: 'Submit and wait for the artifact' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ schema: UPLOAD_FORM_SCHEMA })
  @ApiProduces('image/png', 'application/json')
  @ApiResponse({ status: 200, description: 'The artifact bytes.' })
  @ApiResponse({ status: 202, type: JobAcceptedDto, description: 'Not done in time; poll or subscribe.' })
  @ApiResponse({ status: 400, type: ErrorBodyDto })
  async infer(
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<void> {
    const submission = await this.submitter.submit(await readTracedUploadForm(request), idempotencyKey);
    markUploadAccepted(request);
    // Set now: the artifact, the 202 and the job's failure all answer with the job's trace.
    setTraceIdHeader(reply, submission.traceId);
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
