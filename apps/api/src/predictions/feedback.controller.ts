import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FeedbackResponse } from '@fathom/contracts';
import type { Principal } from '../auth/principal';
import { CurrentPrincipal } from '../auth/principal.decorator';
import { RequireScopes } from '../auth/scopes.decorator';
import { ErrorBodyDto } from '../common/dto/error-body.dto';
import { FeedbackRequestDto, FeedbackResponseDto } from './dto/feedback.dto';
import { FeedbackService } from './feedback.service';

/** Under /v1/jobs, but here: the feedback lives on the job's prediction-log row, which this module owns. */
@ApiTags('jobs')
@Controller('v1/jobs')
export class FeedbackController {
  constructor(@Inject(FeedbackService) private readonly feedback: FeedbackService) {}

  @Post(':id/feedback')
  @RequireScopes('jobs:write')
  @HttpCode(200)
  @ApiOperation({ summary: 'Rate a finished job (thumbs up or down, a comment, a correction); sending again replaces it' })
  @ApiBody({ type: FeedbackRequestDto })
  @ApiResponse({ status: 200, type: FeedbackResponseDto, description: 'The feedback as stored on the job’s prediction-log row.' })
  @ApiResponse({ status: 400, type: ErrorBodyDto, description: 'invalid_request: the message names the field.' })
  @ApiResponse({ status: 404, type: ErrorBodyDto, description: 'job_not_found: no such job, or another key’s.' })
  @ApiResponse({ status: 409, type: ErrorBodyDto, description: 'result_not_ready: the job is queued or running.' })
  @ApiResponse({ status: 410, type: ErrorBodyDto, description: 'job_expired, and not in the prediction log.' })
  @ApiResponse({
    status: 503,
    type: ErrorBodyDto,
    description:
      'prediction_not_logged: the job has finished but its prediction-log row is seconds behind (longer after an outage); store_unavailable: PostgreSQL or Redis is down. Nothing stored; see Retry-After.',
  })
  give(@Param('id') id: string, @Body() body: unknown, @CurrentPrincipal() { keyId }: Principal): Promise<FeedbackResponse> {
    return this.feedback.give(id, keyId, body);
  }
}
