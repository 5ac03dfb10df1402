import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { ErrorCode, FathomError } from '@fathom/contracts';
import { redactSecrets } from '@fathom/config';
import { selfSignedCertificate, startRedisServer, type RedisServerHandle } from '@fathom/testing';
import { RedisAvailability } from './redis-availability';
import {
  createRedisConnection,
  MAX_RECONNECT_DELAY_MS,
  redisClusterOptions,
  redisConnectionOptions,
  type RedisSettings,
} from './redis-connection';
import { asStoreUnavailable, isStoreUnavailableError, STORE_RETRY_AFTER_SECONDS } from './store-errors';

const COMMAND_TIMEOUT_MS = 300;

/** What a log receives, kept for assertions. */
function recordingLog() {
  const lines: Array<{ level: 'warn' | 'info'; msg: unknown; error?: unknown }> = [];
  return {
    lines,
    warn: (fields: Record<string, unknown>) => lines.push({ level: 'warn', msg: fields.msg, error: fields.error }),
    info: (fields: Record<string, unknown>) => lines.push({ level: 'info', msg: fields.msg }),
    messages: () => lines.map((l) => l.msg),
  };
}

/** Resolves once the log has received `msg`. */
function logged(log: ReturnType<typeof recordingLog>, availability: RedisAvailability, msg: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const check = () => {
      if (log.messages().includes(msg)) return resolve();
      if (Date.now() > deadline) return reject(new Error(`no "${msg}" within ${timeoutMs} ms: ${JSON.stringify(log.lines)}`));
      void availability.check().then(() => setTimeout(check, 20));
    };
    check();
  });
}

async function failure(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await promise;
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
  throw new Error('expected the command to fail');
}

describe('Redis connections under trouble', () => {
  let server: RedisServerHandle;
  const opened: Redis[] = [];
  const stops: Array<() => void> = [];
  const settings = (): RedisSettings & { cluster?: false } => ({
    url: server.url,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    connectTimeoutMs: 1_000,
  });
  const connect = (role: 'commands' | 'blocking' = 'commands') => {
    const connection = createRedisConnection(settings(), role);
    opened.push(connection);
    return connection;
  };

  beforeAll(async () => {
    // fsync before answering: with everysec Redis answers a write whose AOF write(2) it postponed
    // behind a slow fsync (a loaded disk), and a SIGKILL then loses it — this test is about the client.
    server = await startRedisServer({ appendonly: true, args: ['--appendfsync', 'always'] });
  });

  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
    server.resume();
    for (const connection of opened.splice(0)) connection.disconnect();
  });

  afterAll(async () => {
    await server.stop();
  });

  it('a stopped Redis (SIGSTOP) fails a command within the command timeout, as store_unavailable; SIGCONT recovers', async () => {
    const redis = connect();
    const log = recordingLog();
    const availability = new RedisAvailability(redis, log, 50).start();
    stops.push(() => availability.stop());
    const restored = new Promise<void>((resolve) => availability.onRestored(resolve));
    await redis.set('k', 'v');

    server.pause();
    const results = await Promise.all([failure(redis.get('k')), failure(redis.get('k'))]);
    for (const { error, ms } of results) {
      expect(isStoreUnavailableError(error)).toBe(true);
      // The timer runs from the send: never before the timeout, and not much later (4 × leaves room for a loaded machine).
      expect(ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 5);
      expect(ms).toBeLessThan(4 * COMMAND_TIMEOUT_MS);
    }
    const mapped = asStoreUnavailable(results[0].error);
    expect(mapped).toBeInstanceOf(FathomError);
    expect(mapped).toMatchObject({ code: ErrorCode.StoreUnavailable, retryAfterSeconds: STORE_RETRY_AFTER_SECONDS });
    await logged(log, availability, 'redis unavailable', 4 * COMMAND_TIMEOUT_MS);
    expect(availability.available).toBe(false);

    server.resume();
    await restored;
    expect(await redis.get('k')).toBe('v');
    // Once per state change, however many commands and probes failed in between.
    expect(log.messages()).toEqual(['redis unavailable', 'redis available again']);
    expect(availability.reachableSince()).toBeGreaterThan(0);
  });

  it('a killed Redis fails commands fast; when it is back on the same port (AOF), the data is there and the outage is logged once each way', async () => {
    const redis = connect();
    const blocking = connect('blocking');
    const log = recordingLog();
    const availability = new RedisAvailability(redis, log, 50);
    availability.watch(blocking);
    await redis.set('kept', 'yes');
    await blocking.ping();

    await server.kill();
    const { error, ms } = await failure(redis.get('kept'));
    expect(isStoreUnavailableError(error)).toBe(true);
    expect(ms).toBeLessThan(4 * COMMAND_TIMEOUT_MS);
    await logged(log, availability, 'redis unavailable', 5_000);
    // Known to be down: a command no longer waits in the offline queue for the timeout.
    const known = await failure(redis.get('kept'));
    expect(isStoreUnavailableError(known.error)).toBe(true);
    expect(known.ms).toBeLessThan(COMMAND_TIMEOUT_MS / 2);

    await server.start();
    await logged(log, availability, 'redis available again', 10_000);
    expect(await redis.get('kept')).toBe('yes');
    expect(log.messages()).toEqual(['redis unavailable', 'redis available again']);
  });

  it('blocking connections keep BullMQ’s settings: no command timeout, retries without limit', () => {
    expect(redisConnectionOptions(settings(), 'blocking')).toMatchObject({ maxRetriesPerRequest: null, enableAutoPipelining: false });
    expect(redisConnectionOptions(settings(), 'blocking').commandTimeout).toBeUndefined();
    expect(redisConnectionOptions(settings(), 'commands')).toMatchObject({ commandTimeout: COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 1 });
  });

  it("a Redis Cluster's own failures (a slot with no master, no node reachable) are store_unavailable", () => {
    for (const message of [
      'Too many Cluster redirections. Last error: Error: Connection is closed.',
      "Cluster isn't ready and enableOfflineQueue options is false",
      'Failed to refresh slots cache.',
      'None of startup nodes is available',
      'CLUSTERDOWN The cluster is down',
      'MOVED 13651 127.0.0.1:44317',
    ])
      expect([message, isStoreUnavailableError(new Error(message))]).toEqual([message, true]);
  });

  it('a cluster connection gives every node the same timeouts, credentials and TLS, and backs off as a whole', () => {
    const cluster = { url: 'rediss://app:p%40ss@10.0.0.5:7000', commandTimeoutMs: 300, connectTimeoutMs: 1_000, cluster: true };
    const commands = redisClusterOptions(cluster, 'commands');
    expect(commands).toMatchObject({
      enableAutoPipelining: false,
      // Ready once the slots are known: a failed ready check leaves connect() unsettled (redis-cluster.spec.ts).
      enableReadyCheck: false,
      redisOptions: { commandTimeout: 300, connectTimeout: 1_000, maxRetriesPerRequest: 1, username: 'app', password: 'p@ss', tls: {} },
    });
    expect(commands.redisOptions).not.toHaveProperty('retryStrategy');
    expect(commands.clusterRetryStrategy?.(100, new Error('down'))).toBe(MAX_RECONNECT_DELAY_MS);
    const blocking = redisClusterOptions(cluster, 'blocking');
    expect(blocking).toMatchObject({ enableAutoPipelining: false, enableReadyCheck: false, redisOptions: { maxRetriesPerRequest: null } });
    expect(blocking.redisOptions?.commandTimeout).toBeUndefined();
  });
});

describe('Redis with a password (AUTH)', () => {
  const SECRET = 's3cret-Pa55word';
  let server: RedisServerHandle;

  beforeAll(async () => {
    server = await startRedisServer({ password: SECRET });
  });

  afterAll(async () => {
    await server.stop();
  });

  it('connects with redis://:password@host:port', async () => {
    expect(server.url).toContain(`:${SECRET}@`);
    const redis = createRedisConnection(server.url, 'commands');
    try {
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });

  it('a wrong password is store_unavailable, and its error prints no password once redacted', async () => {
    const WRONG = 'not-the-Pa55word';
    const url = server.url.replace(SECRET, WRONG);
    const errors: Error[] = [];
    const redis = createRedisConnection(url, 'commands', { onError: (e) => errors.push(e) });
    try {
      const { error } = await failure(redis.ping());
      expect(isStoreUnavailableError(error)).toBe(true);
      const printed = [error, ...errors].map((e) => redactSecrets(inspect(e), { REDIS_URL: url })).join('\n');
      expect(printed).toMatch(/WRONGPASS|NOAUTH/);
      expect(printed).not.toContain(WRONG);
    } finally {
      redis.disconnect();
    }
  });
});

describe('Redis over TLS (rediss://)', () => {
  let server: RedisServerHandle;
  const tls = selfSignedCertificate();

  beforeAll(async () => {
    server = await startRedisServer({ tls });
  });

  afterAll(async () => {
    await server.stop();
  });

  it('connects to a TLS-only redis-server, checking its certificate against REDIS_TLS_CA_FILE', async () => {
    expect(server.url).toMatch(/^rediss:\/\//);
    const redis = createRedisConnection(
      { url: server.url, commandTimeoutMs: 2_000, connectTimeoutMs: 2_000, tlsCaFile: tls.caFile },
      'commands',
    );
    try {
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });

  it('refuses a certificate it cannot check (no CA given): the failure is store_unavailable, not a hang', async () => {
    const errors: Error[] = [];
    const redis = createRedisConnection({ url: server.url, commandTimeoutMs: 500, connectTimeoutMs: 500 }, 'commands', {
      onError: (e) => errors.push(e),
    });
    try {
      const { error } = await failure(redis.ping());
      expect(isStoreUnavailableError(error)).toBe(true);
      expect(errors.map((e) => e.message).join('\n')).toMatch(/self[- ]signed/i);
    } finally {
      redis.disconnect();
    }
  });
});
