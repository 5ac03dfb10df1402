import type { Kysely, Migration } from 'kysely';

/**
 * Indexes that walk the prediction log in its keyset order (finished_at, job_id): an export of one
 * model, or of everything, reads each page by index instead of sorting the rows after the cursor;
 * a model's retention deletes find its old rows whatever their version. The plain time index is
 * the new one's prefix, so it goes.
 */
export const predictionIndexesMigration: Migration = {
  up: async (db: Kysely<unknown>) => {
    await db.schema.createIndex('predictions_by_model_time').on('predictions').columns(['model', 'finished_at', 'job_id']).execute();
    await db.schema.createIndex('predictions_by_time_job').on('predictions').columns(['finished_at', 'job_id']).execute();
    await db.schema.dropIndex('predictions_by_time').execute();
  },
};
