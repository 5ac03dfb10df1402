import { createZodDto } from 'nestjs-zod';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { z } from 'zod';
import { errorBodySchema, jobAcceptedSchema, jobStatusSchema, modelListingSchema } from '@fathom/contracts';

/** OpenAPI shapes generated from the contracts' zod schemas (the same ones the code validates with). */
export class JobAcceptedDto extends createZodDto(jobAcceptedSchema) {}
export class JobStatusDto extends createZodDto(jobStatusSchema) {}
export class ErrorBodyDto extends createZodDto(errorBodySchema) {}
export class ModelListDto extends createZodDto(z.object({ models: z.array(modelListingSchema) })) {}

/** The multipart form of POST /v1/jobs and /v1/infer, for the interactive docs. */
export const UPLOAD_FORM_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['image', 'model'],
  properties: {
    image: { type: 'string', format: 'binary', description: 'The image (JPEG, PNG, WebP, GIF first frame, TIFF, AVIF). The format is read from the bytes.' },
    model: { type: 'string', description: 'A model name from GET /v1/models, optionally pinned: `name@version`.', example: 'ppocr-v4-det' },
    options: {
      type: 'string',
      description: 'JSON object with the task options. Dense maps (depth, heatmap): {"output":"grayscale"|"colormap"|"raw16","colormap":"turbo"|"inferno"|"magma"|"viridis"|"plasma"|"gray"}',
      example: '{"output":"colormap","colormap":"turbo"}',
    },
  },
};
