import { clusterKeySlot } from './key-slot';

describe('the Redis Cluster slot of a key', () => {
  it('matches the known answers of the Redis Cluster specification and redis-cli CLUSTER KEYSLOT', () => {
    // CRC16/XMODEM("123456789") = 0x31C3 (the specification's check value), 0x31C3 % 16384 = 12739.
    expect(clusterKeySlot('123456789')).toBe(0x31c3 % 16384);
    expect(clusterKeySlot('foo')).toBe(12182);
    expect(clusterKeySlot('bar')).toBe(5061);
    expect(clusterKeySlot('somekey')).toBe(11058);
  });

  it('hashes only the hash tag when the key has one', () => {
    expect(clusterKeySlot('{user1000}.following')).toBe(clusterKeySlot('{user1000}.followers'));
    expect(clusterKeySlot('foo{bar}zap')).toBe(clusterKeySlot('bar'));
    // An empty tag, or a `{` with no `}` after it, is no tag: the whole key is hashed.
    expect(clusterKeySlot('foo{}{bar}')).not.toBe(clusterKeySlot('bar'));
    expect(clusterKeySlot('foo{{bar}}zap')).toBe(clusterKeySlot('{bar'));
    expect(clusterKeySlot('foo{bar')).not.toBe(clusterKeySlot('bar'));
  });
});
