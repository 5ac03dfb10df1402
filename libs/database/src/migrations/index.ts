import type { Migration } from 'kysely';
import { apiKeysMigration } from './0001-api-keys';
import { auditLogMigration } from './0002-audit-log';
import { deploymentsMigration } from './0003-deployments';
import { evaluationsMigration } from './0004-evaluations';
import { predictionsMigration } from './0005-predictions';
import { driftMigration } from './0006-drift';
import { predictionIndexesMigration } from './0007-prediction-indexes';

/**
 * Every migration, in order. A name is `NNNN_what` and, once released, never changes (the
 * database records which names it ran); a migration's `up` never changes either — a later one
 * alters what an earlier one made. Kept as a list in code, not read from a folder, so the built
 * service carries its migrations wherever it runs.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_api_keys': apiKeysMigration,
  '0002_audit_log': auditLogMigration,
  '0003_deployments': deploymentsMigration,
  '0004_evaluations': evaluationsMigration,
  '0005_predictions': predictionsMigration,
  '0006_drift': driftMigration,
  '0007_prediction_indexes': predictionIndexesMigration,
};
