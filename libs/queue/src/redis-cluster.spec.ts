import { clusterKeySlot, startRedisCluster, type RedisClusterHandle, type RedisServerHandle } from '@fathom/testing';
import { createRedisConnection, DEFAULT_REDIS_TIMEOUTS, type RedisClient, type RedisSettings } from './redis-connection';

/** Settles `promise` into what a test can look at without awaiting it. */
function watch(promise: Promise<unknown>): { state: 'pending' | 'resolved' | 'rejected' } {
  const watched = { state: 'pending' as 'pending' | 'resolved' | 'rejected' };
  promise.then(
    () => (watched.state = 'resolved'),
    () => (watched.state = 'rejected'),
  );
  return watched;
}

/** Resolves on the client's next `ready` (at once if it is ready). */
function ready(client: RedisClient): Promise<void> {
  return client.status === 'ready' ? Promise.resolve() : new Promise((resolve) => client.once('ready', () => resolve()));
}

/**
 * Fathom's connections on a real three-master Redis Cluster while one master is SIGKILLed: the
 * cluster says `cluster_state:fail` until it is back, and a connect() asked meanwhile must be
 * answered — BullMQ's Worker awaits it when it recovers its blocking connection, and a consumer whose
 * connect() never settled took no job again (ADR 0014, the cluster e2e's old flake).
 */
describe('Redis Cluster connections through a master outage', () => {
  let cluster: RedisClusterHandle;
  let settings: RedisSettings;
  const closers: Array<() => Promise<unknown>> = [];
  /** Masters SIGKILLed and not started again yet. */
  const dead = new Set<RedisServerHandle>();

  beforeAll(async () => {
    cluster = await startRedisCluster();
    settings = { url: cluster.url, cluster: true, ...DEFAULT_REDIS_TIMEOUTS };
  });

  afterEach(async () => {
    await Promise.allSettled(closers.splice(0).map((close) => close()));
    // Each test leaves the cluster whole for the next.
    await Promise.all([...dead].map(revive));
    await cluster.ready();
  });

  afterAll(() => cluster?.stop());

  /**
   * SIGKILLs a master other than the seed (the clients start from it) and the one serving `spared`'s
   * slot, and waits until the others report the cluster down (after its node timeout).
   */
  async function killMasterSparing(spared: string): Promise<RedisServerHandle> {
    const keep = await cluster.masterOf(clusterKeySlot(spared));
    const victim = cluster.masters.find((m) => m !== keep && m !== cluster.masters[0])!;
    dead.add(victim);
    await victim.kill();
    await cluster.down();
    return victim;
  }

  /** Starts a killed master again from its folder and waits until every slot is served. */
  async function revive(master: RedisServerHandle): Promise<void> {
    dead.delete(master);
    await master.start();
    await cluster.ready();
  }

  it('a connection (re)opened while the cluster is down answers its connect() once it is back', async () => {
    const client = createRedisConnection(settings, 'blocking');
    closers.push(async () => client.disconnect());
    await ready(client);
    const victim = await killMasterSparing('{story}:after');

    // What BullMQ's Worker does to a blocking connection it no longer trusts (its BZPOPMIN watchdog,
    // RedisConnection.reconnect): disconnect, wait for the end, connect again.
    const ended = new Promise((resolve) => client.once('end', resolve));
    client.disconnect();
    await ended;
    const connecting = watch(client.connect());
    await revive(victim);
    await ready(client);
    // One turn of the event loop for a settled connect() to run its handlers.
    await new Promise((resolve) => setImmediate(resolve));
    expect(connecting.state).toBe('resolved');
    expect(await client.set('{story}:after', 'back')).toBe('OK');
  });
});
