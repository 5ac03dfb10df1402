import { DEFAULT_ROLLOUT } from '@fathom/contracts';
import { startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { createRedisConnection } from './redis-connection';
import { redisKeys } from './redis-keys';
import { RolloutStore } from './rollout.store';

describe('a rollout set by a Fathom from before the cluster layout', () => {
  let server: RedisServerHandle;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(() => server.stop());

  it('is still read after the upgrade, and the next change moves it under the hash-tagged key', async () => {
    const redis = createRedisConnection(server.url, 'commands');
    const keys = redisKeys('fathom');
    const before = { ...DEFAULT_ROLLOUT, aliases: { stable: '1.0.0' } };
    await redis.set('fathom:rollout:depth', JSON.stringify(before));
    const store = new RolloutStore(redis, 'fathom');

    expect(await store.get('depth')).toEqual(before);
    const change = await store.update('depth', 'ops', 'set-alias', (state) => ({
      ...state,
      aliases: { ...state.aliases, canary: '1.1.0' },
    }));
    expect(change.before).toEqual(before);
    expect(JSON.parse((await redis.get(keys.rollout('depth')))!)).toMatchObject({ aliases: { stable: '1.0.0', canary: '1.1.0' } });
    expect(await store.get('depth')).toMatchObject({ aliases: { stable: '1.0.0', canary: '1.1.0' } });
    expect(await store.log('depth')).toHaveLength(1);
    await redis.quit();
  });
});
