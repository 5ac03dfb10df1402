import { readFileSync } from 'node:fs';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** How a process reaches Redis: @fathom/config's redisSettings builds it from the REDIS_* variables. */
export interface RedisSettings {
  /** `redis://[:password@]host:port[/db]` or `rediss://` (TLS). */
  url: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  /** PEM file of the CA that signed a `rediss://` server's certificate. */
  tlsCaFile?: string;
  /** `url` names one node of a Redis Cluster (REDIS_CLUSTER): the others are discovered from it. */
  cluster?: boolean;
}

/** A connection to a single Redis or to a Redis Cluster: every Fathom store takes either. */
export type RedisClient = Redis | Cluster;

/** Defaults for tests and tools that only have a URL (the config's defaults). */
export const DEFAULT_REDIS_TIMEOUTS = { commandTimeoutMs: 2_000, connectTimeoutMs: 5_000 } as const;

/** Reconnect attempts back off 50 ms, 100 ms, … up to this: Redis is used again within ~1 s of coming back. */
export const MAX_RECONNECT_DELAY_MS = 1_000;

export type RedisRole = 'commands' | 'blocking';

/**
 * ioredis connections for Fathom.
 *
 * - `commands`: every command has REDIS_COMMAND_TIMEOUT_MS to answer, including one queued while
 *   the connection is down (ioredis arms the timer when the command is sent, queued or not) and
 *   one sent to a Redis that is stopped but still connected (SIGSTOP: no reconnect ever happens).
 *   A queued command is also given up after one failed reconnect (`maxRetriesPerRequest: 1`), so
 *   a refused connection fails fast. Command clients pipeline automatically: what concurrent
 *   requests send in the same turn of the event loop goes out in one write (order kept).
 * - `blocking`: for BullMQ's Worker and QueueEvents. BullMQ requires `maxRetriesPerRequest: null`
 *   (its blocking reads wait through an outage and resume) and a command timeout would cut its
 *   BZPOPMIN / XREAD BLOCK short, so neither is set; never pipelined (a blocking read would hold
 *   the commands behind it).
 *
 * With `cluster`, an ioredis `Cluster` with the same options on each node connection (timeouts,
 * password, TLS) and the same reconnect back-off for the cluster as a whole, ready once it knows the
 * slots (not once CLUSTER INFO says ok, see redisClusterOptions); every key Fathom and
 * BullMQ write is hash-tagged so that what one command or script touches is in one slot (ADR 0014).
 *
 * Every connection has an `error` listener (`onError`, or one that ignores): ioredis prints
 * "[ioredis] Unhandled error event" with a stack on stderr for each failed reconnect otherwise.
 */
export function createRedisConnection(
  settings: (RedisSettings & { cluster?: false }) | string,
  role: RedisRole,
  extra?: RedisOptions & { onError?: (error: Error) => void },
): Redis;
export function createRedisConnection(
  settings: RedisSettings | string,
  role: RedisRole,
  extra?: RedisOptions & { onError?: (error: Error) => void },
): RedisClient;
export function createRedisConnection(
  settings: RedisSettings | string,
  role: RedisRole,
  extra: RedisOptions & { onError?: (error: Error) => void } = {},
): RedisClient {
  const resolved: RedisSettings = typeof settings === 'string' ? { url: settings, ...DEFAULT_REDIS_TIMEOUTS } : settings;
  const { onError, ...options } = extra;
  const connection = resolved.cluster
    ? new Cluster([clusterSeed(resolved.url)], redisClusterOptions(resolved, role, options))
    : new Redis(resolved.url, { ...redisConnectionOptions(resolved, role), ...options });
  connection.on('error', onError ?? (() => undefined));
  return connection;
}

/** The seed node of a cluster URL (the others come from CLUSTER SLOTS). */
function clusterSeed(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 6379) };
}

/**
 * The ioredis `Cluster` options of a connection of `role` (exported for its spec): each node's
 * connection gets `redisConnectionOptions` plus the URL's credentials; reconnecting
 * and the offline queue are the cluster's.
 */
export function redisClusterOptions(settings: RedisSettings, role: RedisRole, extra: RedisOptions = {}): ClusterOptions {
  const {
    retryStrategy,
    enableReadyCheck: _readyCheck,
    enableAutoPipelining: _pipelining,
    ...node
  } = { ...redisConnectionOptions(settings, role), ...extra };
  const parsed = new URL(settings.url);
  const credentials = {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
  };
  const tls = settings.url.startsWith('rediss://') ? { tls: node.tls ?? {} } : {};
  return {
    redisOptions: { ...node, ...credentials, ...tls },
    clusterRetryStrategy: (attempt) => (retryStrategy ? retryStrategy(attempt) : null),
    // No cluster ready check (CLUSTER INFO must say cluster_state:ok): when it fails, ioredis reconnects
    // on its own but never settles the connect() promise that asked (ioredis#741). BullMQ's Worker awaits
    // connect() on its blocking connection when recovering it, so a recovery that ran while a master was
    // down hung that consumer for good (ADR 0014). Ready after CLUSTER SLOTS; CLUSTERDOWN is retried below.
    enableReadyCheck: false,
    // Not auto-pipelined: ioredis redirects a pipeline's MOVED only when every command in it got the
    // same one, so a batch of unrelated commands after a topology change surfaced "MOVED" as an error.
    enableAutoPipelining: false,
    // A master that is down fails its slots' commands (CLUSTERDOWN) until it is back or replaced: retried every 100 ms.
    retryDelayOnClusterDown: 100,
  };
}

/** Whether `client` is a Redis Cluster connection. */
export function isRedisCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/** The ioredis options of a connection of `role` (exported for its spec). */
export function redisConnectionOptions(settings: RedisSettings, role: RedisRole): RedisOptions {
  const tls = settings.url.startsWith('rediss://') && settings.tlsCaFile ? { tls: { ca: readFileSync(settings.tlsCaFile) } } : {};
  return {
    maxRetriesPerRequest: role === 'blocking' ? null : 1,
    ...(role === 'commands' ? { commandTimeout: settings.commandTimeoutMs } : {}),
    connectTimeout: settings.connectTimeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * 50, MAX_RECONNECT_DELAY_MS),
    enableReadyCheck: true,
    connectionName: `fathom-${role}`,
    enableAutoPipelining: role === 'commands',
    ...tls,
  };
}
