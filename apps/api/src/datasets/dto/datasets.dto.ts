import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { datasetViewSchema, taskNameSchema } from '@fathom/contracts';

/** GET /v1/datasets/:name[/:version]: the dataset and its samples' ids, in order. */
export const datasetDetailSchema = datasetViewSchema.extend({ sampleIds: z.array(z.string()) });

/** A built-in dataset: packaged with Fathom, registered the first time an evaluation names it. */
export const builtinDatasetSchema = z.object({
  name: z.string(),
  version: z.string(),
  task: taskNameSchema,
  description: z.string().nullable(),
  licence: z.string().nullable(),
  registered: z.boolean(),
  /** Why it cannot be built on this instance (a fixture it is made from is missing), or null. */
  unavailable: z.string().nullable(),
});

export class DatasetDetailDto extends createZodDto(datasetDetailSchema) {}
export class DatasetListDto extends createZodDto(
  z.object({ datasets: z.array(datasetViewSchema), builtins: z.array(builtinDatasetSchema) }),
) {}
