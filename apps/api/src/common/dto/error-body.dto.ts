import { createZodDto } from 'nestjs-zod';
import { errorBodySchema } from '@fathom/contracts';

/** Every error response, of every route (OpenAPI shape from the contract's zod schema). */
export class ErrorBodyDto extends createZodDto(errorBodySchema) {}
