import { createZodDto } from 'nestjs-zod';
import { feedbackRequestSchema, feedbackResponseSchema } from '@fathom/contracts';

/** OpenAPI shapes from the contracts' zod schemas (the ones the service validates with). */
export class FeedbackRequestDto extends createZodDto(feedbackRequestSchema) {}
export class FeedbackResponseDto extends createZodDto(feedbackResponseSchema) {}
