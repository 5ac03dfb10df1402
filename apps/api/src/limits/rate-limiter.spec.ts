import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { errorBodySchema } from '@fathom/contracts';
import { createRedisConnection } from '@fathom/queue';
import { startRedisServer, type RedisServerHandle } from '@fathom/testing';
import type { Principal } from '../auth/principal';
import { mapError, sendMapped } from '../common/api-exception.filter';
import { ApiMetrics } from '../metrics/api-metrics';
import { installRateLimiter } from './rate-limiter';

const DEFAULT_PER_SECOND = 3;

/**
 * The limiter as the API installs it, on a bare Fastify with a real redis-server, and an
 * authentication hook registered after it, as the keys' hook will be: it reads the key from an
 * `x-key` header (`id` or `id:limit`). What it must do: count per key, not per address, once
 * authentication has run; use a key's own limit over the default; never fail a request for Redis.
 */
describe('the request rate limiter: per key once authenticated, per address before', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let prefix = 0;
  const apps: FastifyInstance[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    redis = createRedisConnection(server.url, 'commands');
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  afterAll(async () => {
    await redis.quit();
    await server.stop();
  });

  async function app(connection = redis): Promise<FastifyInstance> {
    const fastify = Fastify();
    apps.push(fastify);
    fastify.setErrorHandler((error, _request, reply) => sendMapped(reply, mapError(error)));
    // Each test counts under its own prefix: one test's window never spills into the next.
    const config = { API_KEY_REQUESTS_PER_SECOND: DEFAULT_PER_SECOND, API_KEY_JOBS_IN_FLIGHT: 10, REDIS_PREFIX: `limits-${++prefix}` };
    await installRateLimiter(fastify, {
      config,
      redis: connection,
      availability: { available: true },
      metrics: new ApiMetrics(new Registry()),
    });
    // Registered after the limiter, as the authentication hook may be: root hooks still run first.
    fastify.addHook('onRequest', (request, _reply, done) => {
      const header = request.headers['x-key'];
      if (typeof header === 'string') {
        const [keyId = '', limit] = header.split(':');
        const principal: Principal = {
          keyId,
          owner: 'test',
          scopes: [],
          limits: { requestsPerSecond: limit ? Number(limit) : null, jobsInFlight: null },
          authenticated: true,
        };
        request.principal = principal;
      }
      done();
    });
    fastify.get('/v1/models', () => ({ models: [] }));
    fastify.get('/healthz', () => ({ ok: true }));
    await fastify.ready();
    return fastify;
  }

  /** Sends `count` requests at once (one window), with the given headers; resolves with their statuses, sorted. */
  async function burst(fastify: FastifyInstance, count: number, headers: Record<string, string> = {}, url = '/v1/models') {
    const answers = await Promise.all(Array.from({ length: count }, () => fastify.inject({ method: 'GET', url, headers })));
    return { statuses: answers.map((a) => a.statusCode).sort(), answers };
  }

  it('counts each key on its own, whatever address it calls from, and the address alone without a key', async () => {
    const fastify = await app();
    const [a, b, anonymous] = await Promise.all([
      burst(fastify, DEFAULT_PER_SECOND + 1, { 'x-key': 'a' }),
      burst(fastify, DEFAULT_PER_SECOND, { 'x-key': 'b' }),
      burst(fastify, DEFAULT_PER_SECOND + 1),
    ]);
    expect(a.statuses).toEqual([200, 200, 200, 429]);
    expect(b.statuses).toEqual([200, 200, 200]);
    expect(anonymous.statuses).toEqual([200, 200, 200, 429]);
    const refused = a.answers.find((r) => r.statusCode === 429)!;
    expect(errorBodySchema.parse(refused.json()).error).toMatchObject({
      code: 'rate_limited',
      message: expect.stringContaining('with this API key'),
    });
    expect(refused.headers['retry-after']).toBe('1');
  });

  it("uses a key's own limit over the API's default", async () => {
    const fastify = await app();
    expect((await burst(fastify, 2, { 'x-key': 'small:1' })).statuses).toEqual([200, 429]);
    expect((await burst(fastify, 6, { 'x-key': 'large:6' })).statuses).toEqual([200, 200, 200, 200, 200, 200]);
  });

  it('does not count the health checks', async () => {
    const fastify = await app();
    expect((await burst(fastify, 10, { 'x-key': 'a' }, '/healthz')).statuses.filter((s) => s !== 200)).toEqual([]);
    expect((await burst(fastify, DEFAULT_PER_SECOND, { 'x-key': 'a' })).statuses).toEqual([200, 200, 200]);
  });

  it('lets requests through, unlimited, when Redis fails under it (the request then meets Redis itself)', async () => {
    const lost = createRedisConnection(server.url, 'commands');
    const fastify = await app(lost);
    await lost.ping(); // connected first: one closed while connecting would reconnect
    lost.disconnect(); // every command from now on fails at once: "Connection is closed."
    expect((await burst(fastify, DEFAULT_PER_SECOND + 2, { 'x-key': 'a' })).statuses).toEqual([200, 200, 200, 200, 200]);
  });
});
