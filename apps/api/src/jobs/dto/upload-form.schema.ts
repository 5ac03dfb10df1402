import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { describeTaskOptions } from '@fathom/contracts';
import { DEADLINE_FORMAT } from '../uploads/deadline';

/** The multipart form of POST /v1/jobs and /v1/infer, for the interactive docs. */
export const UPLOAD_FORM_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['image', 'model'],
  properties: {
    image: {
      type: 'string',
      format: 'binary',
      description: 'The image (JPEG, PNG, WebP, GIF first frame, TIFF, AVIF). The format is read from the bytes.',
    },
    model: {
      type: 'string',
      description:
        "A model from GET /v1/models: `name` (its stable version, or the canary for the canary's share of traffic), `name@stable`, `name@canary`, or a pinned `name@1.2.0`.",
      example: 'ppocr-v4-det',
    },
    variant: { type: 'string', description: 'A named fine-tune of the model, from GET /v1/models (versions[].variants).' },
    options: {
      type: 'string',
      description: `JSON object with the task options (GET /v1/models lists each model's JSON Schema). ${describeTaskOptions()}`,
      example: '{"output":"colormap","colormap":"turbo"}',
    },
    deadline: {
      type: 'string',
      description: `${DEADLINE_FORMAT} (or the X-Deadline header). A job still queued when it passes is dropped with deadline_exceeded; a running one is not interrupted.`,
      example: '30',
    },
    purpose: {
      type: 'string',
      enum: ['reference'],
      description:
        '`reference` (models:admin keys only): the image is profiled for a drift reference (`npm run drift -- reference <folder>`), logged but never part of the production window drift compares.',
    },
  },
};
