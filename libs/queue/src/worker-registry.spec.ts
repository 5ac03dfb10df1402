import { Redis } from 'ioredis';
import type { WorkerHeartbeat } from '@fathom/contracts';
import { startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { WorkerRegistry } from './worker-registry';
import { redisKeys } from './redis-keys';

const TTL_MS = 15_000;

function heartbeatOf(workerId: string): WorkerHeartbeat {
  return { workerId, host: 'h', pid: 1, startedAt: 0, models: [] };
}

/**
 * The registry's rule: a worker is gone once it has missed beats for a TTL while Redis was
 * answering; a heartbeat's age counts from its beat or from when Redis came back, whichever is later.
 */
describe('WorkerRegistry: who is alive, across Redis outages', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let prefix = 0;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
  });

  afterAll(async () => {
    await redis.quit();
    await server.stop();
  });

  /** A registry whose process saw Redis come back at `cameBack` (0: never lost it). */
  function registry(cameBack = 0): WorkerRegistry {
    return new WorkerRegistry(redis, `reg-${++prefix}`, TTL_MS, () => cameBack);
  }

  it('without an outage, a worker is alive until its beat is a TTL old', async () => {
    const workers = registry();
    await workers.heartbeat(heartbeatOf('w1'), 1_000_000);
    expect((await workers.liveWorkers(1_000_000 + TTL_MS - 1)).map((w) => w.workerId)).toEqual(['w1']);
    expect(await workers.liveWorkers(1_000_000 + TTL_MS + 1)).toEqual([]);
  });

  it('after an outage longer than the TTL, a worker silent during it gets a full TTL from the return', async () => {
    const lastBeat = 2_000_000;
    const cameBack = lastBeat + 4 * TTL_MS; // Redis answered nobody for 4 TTLs
    const workers = registry(cameBack);
    await workers.heartbeat(heartbeatOf('w1'), lastBeat);
    expect((await workers.liveWorkers(cameBack + 1)).map((w) => w.workerId)).toEqual(['w1']);
    expect((await workers.liveWorkers(cameBack + TTL_MS - 1)).map((w) => w.workerId)).toEqual(['w1']);
    // Still silent a TTL after Redis came back: it missed beats while Redis answered, so it is gone.
    expect(await workers.liveWorkers(cameBack + TTL_MS + 1)).toEqual([]);
  });

  it('keeps the entries well past the TTL in Redis, so an outage (Redis keeps its clock running) does not erase them', async () => {
    const workers = registry();
    await workers.heartbeat(heartbeatOf('w1'));
    const ttl = await redis.pttl(redisKeys(`reg-${prefix}`).worker('w1'));
    expect(ttl).toBeGreaterThan(TTL_MS);
  });
});
