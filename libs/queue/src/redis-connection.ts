import { Redis, type RedisOptions } from 'ioredis';

/**
 * ioredis connections for Fathom. BullMQ's blocking clients (Worker, QueueEvents) need
 * `maxRetriesPerRequest: null`; plain command clients fail fast instead so an HTTP request
 * does not hang while Redis is down.
 */
export function createRedisConnection(url: string, role: 'commands' | 'blocking', extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'blocking' ? null : 2,
    enableReadyCheck: true,
    connectionName: `fathom-${role}`,
    ...extra,
  });
}
