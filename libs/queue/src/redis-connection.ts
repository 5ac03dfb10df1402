import { Redis, type RedisOptions } from 'ioredis';

/**
 * ioredis connections for Fathom. BullMQ's blocking clients (Worker, QueueEvents) need
 * `maxRetriesPerRequest: null`; plain command clients fail fast instead so an HTTP request
 * does not hang while Redis is down. Command clients pipeline automatically: what concurrent
 * requests send in the same turn of the event loop goes out in one write, not one per command
 * (order on the connection is kept; never on a blocking client, where a BZPOPMIN would hold the
 * commands behind it).
 */
export function createRedisConnection(url: string, role: 'commands' | 'blocking', extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'blocking' ? null : 2,
    enableReadyCheck: true,
    connectionName: `fathom-${role}`,
    enableAutoPipelining: role === 'commands',
    ...extra,
  });
}
