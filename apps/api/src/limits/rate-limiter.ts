import type { RedisClient } from '@fathom/queue';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCode, FathomError } from '@fathom/contracts';
import type { RedisAvailability } from '@fathom/queue';
import { routePattern } from '../common/http-observability';
import type { ApiConfig } from '../config/api.config';
import type { ApiMetrics } from '../metrics/api-metrics';
import { principalOf } from '../auth/authenticator';
import { effectiveLimits } from './key-limits';

/** Probes, the web page and the API's docs: never limited (a busy key must not fail its own health checks). */
const UNLIMITED_ROUTES = new Set(['/healthz', '/readyz', '/']);
const isUnlimited = (route: string) => UNLIMITED_ROUTES.has(route) || route === '/docs' || route.startsWith('/docs/');

/** The window requests are counted in: API_KEY_REQUESTS_PER_SECOND and a key's own limit are per second. */
const WINDOW_MS = 1000;

export interface RateLimiterDeps {
  config: Pick<ApiConfig, 'API_KEY_REQUESTS_PER_SECOND' | 'API_KEY_JOBS_IN_FLIGHT' | 'REDIS_PREFIX'>;
  /** The API's command connection: the count is shared by every instance on the same Redis. */
  redis: RedisClient;
  /** While Redis is known to be down, nothing is counted. */
  availability: Pick<RedisAvailability, 'available'>;
  metrics: ApiMetrics;
}

/**
 * Requests per second per API key (per client address for the unauthenticated local caller),
 * counted in Redis by @fastify/rate-limit so every instance shares one count per key. Its hook is
 * a route-level onRequest hook, so it runs after every root onRequest hook (authentication first,
 * whenever that was registered) and before any body is read: a limited upload is refused unread.
 * Registered before the routes (before app.init() and SwaggerModule.setup).
 */
export async function installRateLimiter(fastify: FastifyInstance, deps: RateLimiterDeps): Promise<void> {
  const { config, availability, metrics } = deps;
  await fastify.register(rateLimit, {
    hook: 'onRequest',
    timeWindow: WINDOW_MS,
    redis: deps.redis,
    nameSpace: `${config.REDIS_PREFIX}:rate-limit:`,
    keyGenerator: (request: FastifyRequest) => {
      const principal = principalOf(request);
      return principal.authenticated ? `key:${principal.keyId}` : `ip:${request.ip}`;
    },
    max: (request: FastifyRequest) => effectiveLimits(principalOf(request), config).requestsPerSecond,
    // While Redis is known down, the request goes on at once to the store_unavailable answer it
    // will get anyway, rather than waiting out a command timeout here first.
    allowList: (request: FastifyRequest) => isUnlimited(routePattern(request)) || !availability.available,
    // A Redis error (it went down since the last probe) lets the request through rather than turning it into a 500.
    skipOnError: true,
    errorResponseBuilder: (request: FastifyRequest, context: { max: number; ttl: number }) => {
      metrics.requestLimited(ErrorCode.RateLimited);
      const keyed = principalOf(request).authenticated;
      return new FathomError(
        ErrorCode.RateLimited,
        `More than ${context.max} requests in a second ${keyed ? 'with this API key' : 'from this address'}. ` +
          'Wait for the Retry-After seconds, then send fewer requests per second' +
          (keyed ? ' (or ask for a higher limit on the key).' : ' (or raise API_KEY_REQUESTS_PER_SECOND).'),
        undefined,
        Math.max(1, Math.ceil(context.ttl / 1000)),
      );
    },
  });
}
