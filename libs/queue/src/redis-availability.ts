import { isRedisCluster, type RedisClient } from './redis-connection';
import { isStoreUnavailableError } from './store-errors';

/** Where state changes are logged: pino's (or an adapter's) warn and info with a merge object. */
export interface AvailabilityLog {
  warn(fields: Record<string, unknown>): void;
  info(fields: Record<string, unknown>): void;
}

/**
 * Whether this process can use Redis now, and since when, from one probe connection. Every
 * connection of the process reports its errors here; the state changes (and is logged, once)
 * only on `available → unavailable` and back, never per failed command or reconnect attempt.
 *
 * While available, the probe PINGs every `probeIntervalMs`, so a Redis that is stopped but still
 * connected (no socket event at all) is noticed even when no request touches it; while
 * unavailable it keeps PINGing, and the first answer makes Redis available again (a reconnect's
 * `ready` event probes at once). `reachableSince` is when Redis last came back: the worker
 * registry counts a heartbeat's age from then, so beats missed during an outage do not count.
 */
export class RedisAvailability {
  private unavailableSince: number | null = null;
  private lastCameBack = 0;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopped = false;
  private readonly restoredListeners: (() => void)[] = [];
  /** Command connections that stop queueing commands while Redis is known to be unavailable. */
  private readonly failFast: RedisClient[] = [];

  constructor(
    private readonly probe: RedisClient,
    private readonly log: AvailabilityLog,
    private readonly probeIntervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.watch(probe, 'probe', { failFast: true });
    // A lost connection is an outage even when nothing failed yet (Redis restarted between two
    // commands): it may have come back without its data, so `onRestored` must run on reconnect.
    probe.on('close', () => {
      if (!this.stopped) this.failed(new Error('Connection is closed.'), 'probe');
    });
  }

  get available(): boolean {
    return this.unavailableSince === null;
  }

  /** When Redis last became available again after being unavailable; 0 if it never was unavailable. */
  reachableSince(): number {
    return this.lastCameBack;
  }

  /** Starts PINGing every probeIntervalMs (the timer never keeps the process alive). */
  start(): this {
    this.timer ??= setInterval(() => void this.check(), this.probeIntervalMs).unref();
    return this;
  }

  /** Stops probing; the connections' closing from now on (shutdown) is not an outage. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Listens to a connection's errors (so ioredis never prints them unhandled) and reconnects.
   * `failFast` (command connections only, never BullMQ's blocking ones): while Redis is known to
   * be unavailable and the connection is down, a command fails at once instead of waiting in
   * ioredis' offline queue for REDIS_COMMAND_TIMEOUT_MS (a stopped but connected Redis still
   * takes the timeout: ioredis cannot tell it from a slow one).
   */
  watch<T extends RedisClient>(connection: T, name = connectionName(connection), opts: { failFast?: boolean } = {}): T {
    if (opts.failFast) {
      this.failFast.push(connection);
      connection.options.enableOfflineQueue = this.available;
    }
    connection.on('error', (error: Error) => {
      if (!this.failed(error, name)) this.log.warn({ msg: 'redis connection error', connection: name, error: error.message });
    });
    connection.on('ready', () => void this.check());
    return connection;
  }

  /** Runs when Redis becomes available again (workers re-announce themselves at once). */
  onRestored(listener: () => void): void {
    this.restoredListeners.push(listener);
  }

  /** A command or connection failed: Redis is unavailable if the error says so. Returns whether it did. */
  failed(error: unknown, connection = 'redis'): boolean {
    if (!isStoreUnavailableError(error)) return false;
    if (this.unavailableSince === null) {
      this.unavailableSince = this.now();
      for (const connection of this.failFast) connection.options.enableOfflineQueue = false;
      this.log.warn({ msg: 'redis unavailable', connection, error: error instanceof Error ? error.message : String(error) });
    }
    return true;
  }

  /** A command succeeded: Redis is available (again). */
  succeeded(): void {
    if (this.unavailableSince === null) return;
    const now = this.now();
    const downMs = now - this.unavailableSince;
    this.unavailableSince = null;
    this.lastCameBack = now;
    for (const connection of this.failFast) connection.options.enableOfflineQueue = true;
    this.log.info({ msg: 'redis available again', downMs });
    for (const listener of this.restoredListeners) listener();
  }

  /** PINGs once (at most one PING in flight) and records the outcome. */
  async check(): Promise<boolean> {
    if (this.probing) return this.available;
    this.probing = true;
    try {
      await this.probe.ping();
      this.succeeded();
    } catch (error) {
      this.failed(error, 'probe');
    } finally {
      this.probing = false;
    }
    return this.available;
  }
}

/** The name a connection was given (`connectionName`, on each node's connection for a cluster). */
function connectionName(connection: RedisClient): string {
  return (isRedisCluster(connection) ? connection.options.redisOptions?.connectionName : connection.options.connectionName) ?? 'redis';
}
