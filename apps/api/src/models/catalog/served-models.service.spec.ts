import { Redis } from 'ioredis';
import { inferenceQueueName, type KnownModel } from '@fathom/contracts';
import { createDatabase, DeploymentStore, migrateToLatest, type Database } from '@fathom/database';
import { RolloutStore, WorkerRegistry } from '@fathom/queue';
import { createTestDatabase, startRedisServer, type RedisServerHandle, type TestDatabase } from '@fathom/testing';
import { ServedModelsService } from './served-models.service';

const model: KnownModel = {
  name: 'fresh',
  version: '1.0.0',
  task: 'depth',
  queue: inferenceQueueName('fresh', '1.0.0'),
  input: { name: 'pixel_values', description: 'NCHW float32, 28×28' },
};

/**
 * The API caches heartbeats and the catalog (500 ms) and its reconciler reads them every second,
 * so the cache is usually warm with the moment before a worker announced itself: a submission or
 * a listing just after must still find the worker.
 */
describe('models as the API resolves and lists them, right after a worker announces itself', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let database: TestDatabase;
  let db: Database;
  let prefix = 0;

  beforeAll(async () => {
    [server, database] = await Promise.all([startRedisServer(), createTestDatabase()]);
    redis = new Redis(server.url);
    db = createDatabase({
      url: database.url,
      poolSize: 2,
      statementTimeoutMs: 5_000,
      connectTimeoutMs: 5_000,
      applicationName: 'fathom-test',
    });
    await migrateToLatest(db);
  });
  afterAll(async () => {
    await db.destroy();
    await redis.quit();
    await Promise.all([server.stop(), database.drop()]);
  });

  async function warmCacheThenAnnounce(): Promise<ServedModelsService> {
    const registry = new WorkerRegistry(redis, `models-${++prefix}`, 15_000);
    const service = new ServedModelsService(registry, new RolloutStore(redis, `models-${prefix}`), new DeploymentStore(db));
    // The reconciler's read, an instant before the worker's announcement.
    expect(await service.knownModels()).toEqual([]);
    expect(await service.liveWorkers()).toEqual([]);
    await registry.declare([model]);
    await registry.heartbeat({ workerId: 'w1', host: 'h', pid: 1, startedAt: 0, models: [{ ...model, executionProvider: 'cpu' }] });
    return service;
  }

  it('a submission finds the model (a refusal is decided on a fresh read, not on the cache)', async () => {
    const service = await warmCacheThenAnnounce();
    expect(await service.resolve('fresh', undefined)).toMatchObject({ model: { name: 'fresh', version: '1.0.0' }, route: 'stable' });
  });

  it('GET /v1/models counts the worker', async () => {
    const service = await warmCacheThenAnnounce();
    expect(await service.listings()).toEqual([
      expect.objectContaining({ name: 'fresh', versions: [expect.objectContaining({ version: '1.0.0', workers: 1 })] }),
    ]);
  });
});
