import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { modelListingSchema } from '@fathom/contracts';

/** GET /v1/models (OpenAPI shape from the contract's zod schema). */
export class ModelListDto extends createZodDto(z.object({ models: z.array(modelListingSchema) })) {}
