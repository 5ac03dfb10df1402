import { Inject, Injectable, Logger, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { databaseSettings, redactUrlCredentials } from '@fathom/config';
import {
  ApiKeyStore,
  AuditLogStore,
  createDatabase,
  DatasetStore,
  DeploymentStore,
  DriftReferenceStore,
  EvaluationStore,
  MigrationError,
  PredictionStore,
  migrateToLatest,
  PromotionGateStore,
  type Database,
} from '@fathom/database';
import { API_CONFIG, type ApiConfig } from '../config/api.config';

export const DATABASE = Symbol('DATABASE');

/** Closes the pool after everything that uses it. */
@Injectable()
export class DatabaseLifecycle implements OnApplicationShutdown {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async onApplicationShutdown(): Promise<void> {
    await this.db.destroy();
  }
}

/**
 * The database, brought to this version's schema before the API serves anything: the API runs
 * the migrations at start-up (several instances at once is safe), and does not start on a
 * database it cannot reach or migrate, saying why in one line.
 */
export const databaseProviders: Provider[] = [
  {
    provide: DATABASE,
    inject: [API_CONFIG],
    useFactory: async (c: ApiConfig): Promise<Database> => {
      const logger = new Logger('Database');
      const db = createDatabase(databaseSettings(c, 'fathom-api'), (error) =>
        logger.warn({ msg: 'an idle database connection broke; the pool opens a new one when needed', error: error.message }),
      );
      try {
        const applied = await migrateToLatest(db);
        if (applied.length > 0) logger.log({ msg: 'database migrated', applied });
        return db;
      } catch (error) {
        await db.destroy().catch(() => undefined);
        const where = redactUrlCredentials(c.DATABASE_URL);
        if (error instanceof MigrationError) throw new MigrationError(`fathom-api: the database at ${where}: ${error.message}`);
        throw error;
      }
    },
  },
  DatabaseLifecycle,
  { provide: ApiKeyStore, inject: [DATABASE], useFactory: (db: Database) => new ApiKeyStore(db) },
  { provide: AuditLogStore, inject: [DATABASE], useFactory: (db: Database) => new AuditLogStore(db) },
  { provide: DeploymentStore, inject: [DATABASE], useFactory: (db: Database) => new DeploymentStore(db) },
  { provide: DatasetStore, inject: [DATABASE], useFactory: (db: Database) => new DatasetStore(db) },
  { provide: EvaluationStore, inject: [DATABASE], useFactory: (db: Database) => new EvaluationStore(db) },
  { provide: PromotionGateStore, inject: [DATABASE], useFactory: (db: Database) => new PromotionGateStore(db) },
  { provide: PredictionStore, inject: [DATABASE], useFactory: (db: Database) => new PredictionStore(db) },
  { provide: DriftReferenceStore, inject: [DATABASE], useFactory: (db: Database) => new DriftReferenceStore(db) },
];
