import { createZodDto } from 'nestjs-zod';
import { jobAcceptedSchema, jobStatusSchema } from '@fathom/contracts';

/** OpenAPI shapes generated from the contracts' zod schemas (the same ones the code validates with). */
export class JobAcceptedDto extends createZodDto(jobAcceptedSchema) {}
export class JobStatusDto extends createZodDto(jobStatusSchema) {}
