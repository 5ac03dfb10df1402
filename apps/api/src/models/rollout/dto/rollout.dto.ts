import { createZodDto } from 'nestjs-zod';
import { setAliasBodySchema, setWeightsBodySchema } from '@fathom/contracts';

/** Bodies of the rollout admin routes (OpenAPI shapes from the schemas the controller parses with). */
export class SetAliasDto extends createZodDto(setAliasBodySchema) {}
export class SetWeightsDto extends createZodDto(setWeightsBodySchema) {}
