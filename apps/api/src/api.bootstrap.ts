import cors from '@fastify/cors';
import multipart from '@fastify/multipart';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { Logger, PinoLogger } from 'nestjs-pino';
import { ErrorCode, FathomError } from '@fathom/contracts';
import { RedisAvailability } from '@fathom/queue';
import { ApiModule } from './api.module';
import { installAuthentication } from './auth/authentication.hook';
import { Authenticator } from './auth/authenticator';
import { mapError, sendMapped } from './common/api-exception.filter';
import { CorsPolicy } from './common/cors-policy';
import { installHttpObservability } from './common/http-observability';
import { httpServerOptions } from './common/http-server-options';
import { installSecurityHeaders } from './common/security-headers';
import type { TracingState } from './common/tracing';
import type { ApiConfig } from './config/api.config';
import { REDIS } from './infrastructure/redis.providers';
import { uploadFormLimits } from './jobs/uploads/upload-form.reader';
import { installRateLimiter } from './limits/rate-limiter';
import { ApiMetrics } from './metrics/api-metrics';
import { ApiMetricsServer } from './metrics/metrics.server';
import { FathomIoAdapter } from './realtime/fathom-io.adapter';
import { inlineBlockHashes, readWebPage } from './web/web-page';

/** Set by closeApiApp: from then on new requests are answered 503 (see there). */
const closing = new WeakSet<NestFastifyApplication>();

/**
 * Builds the API application (not yet listening): main.ts and the tests share it. `tracing` says
 * whether the OpenTelemetry SDK was started (instrumentation.ts); off, nothing reads trace context.
 */
export async function createApiApp(config: ApiConfig, tracing: TracingState = { enabled: false }): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter(httpServerOptions(config));
  const app = await NestFactory.create<NestFastifyApplication>(ApiModule.forRoot(config, tracing), adapter, { bufferLogs: true });
  app.useLogger(app.get(Logger));
  const authenticator = app.get(Authenticator);
  // Keys on and none to use: stop now, saying how to make one (main.ts prints it in one line).
  await authenticator.assertUsable().catch(async (error: unknown) => {
    await app.close();
    throw error;
  });
  adapter.getInstance().addHook('onRequest', (_request, reply, done) => {
    if (!closing.has(app)) return done();
    // A request on a connection that was busy when the shutdown began: try another instance.
    void reply.header('Connection', 'close');
    sendMapped(reply, mapError(new FathomError(ErrorCode.ServiceUnavailable, 'This API instance is shutting down. Retry.', undefined, 1)));
  });
  // Before app.init(): Fastify attaches root hooks to the routes Nest registers there. Authentication
  // is the first hook after the shutdown check: rate limits and everything else read request.principal.
  installAuthentication(adapter.getInstance(), authenticator, await app.resolve(PinoLogger));
  installHttpObservability(adapter.getInstance(), app.get(ApiMetrics), tracing.enabled);
  await installRateLimiter(adapter.getInstance(), {
    config,
    redis: app.get(REDIS),
    availability: app.get(RedisAvailability),
    metrics: app.get(ApiMetrics),
  });
  // POST /v1/admin/models takes a manifest as YAML too: the text, parsed by the route (JSON_BODY_LIMIT_BYTES as for JSON).
  adapter
    .getInstance()
    .addContentTypeParser(['application/yaml', 'application/x-yaml', 'text/yaml'], { parseAs: 'string' }, (_request, body, done) =>
      done(null, body),
    );
  await app.register(multipart, {
    // The upload form's reader passes the same limits; these hold for any other reader.
    limits: uploadFormLimits(config.API_MAX_UPLOAD_BYTES),
  });
  await installSecurityHeaders(adapter.getInstance(), inlineBlockHashes(readWebPage()), config.API_CORS_ORIGINS.length > 0);
  const corsPolicy = new CorsPolicy(config.API_CORS_ORIGINS);
  await app.register(cors, {
    origin: (origin: string | undefined, callback: (error: Error | null, allow: boolean) => void) =>
      callback(null, corsPolicy.allowsCrossOrigin(origin)),
  });
  app.useWebSocketAdapter(new FathomIoAdapter(app, corsPolicy));
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Fathom')
      .setDescription(
        'Queue-backed asynchronous inference for image models. Submit with POST /v1/jobs, then poll GET /v1/jobs/{id} ' +
          'or connect socket.io to the /jobs namespace and emit `subscribe` {jobId} for job.progress, job.completed and job.failed.',
      )
      .setVersion('0.1.0')
      // API keys (API_AUTH=keys): `Authorization: Bearer fth_…`.
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, cleanupOpenApiDoc(document), { jsonDocumentUrl: 'docs/openapi.json' });
  await app.init();
  return app;
}

/** Listens on PORT, and on API_METRICS_PORT for /metrics; resolves with both URLs. */
export async function listen(
  app: NestFastifyApplication,
  config: Pick<ApiConfig, 'PORT' | 'HOST' | 'API_METRICS_PORT' | 'API_METRICS_HOST'>,
): Promise<{ url: string; metricsUrl: string }> {
  const metricsUrl = await app.get(ApiMetricsServer).listen(config.API_METRICS_PORT, config.API_METRICS_HOST);
  await app.listen({ port: config.PORT, host: config.HOST });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  return { url: `http://${host}:${port}`, metricsUrl };
}

/**
 * Closes the application on SIGTERM: idle keep-alive connections at once, requests in flight
 * within `graceMs` (then every connection is closed, so a slow client cannot hold the exit), new
 * requests on open connections answered 503 service_unavailable with `Connection: close`.
 */
export async function closeApiApp(app: NestFastifyApplication, graceMs: number): Promise<void> {
  closing.add(app);
  const server = app.getHttpServer();
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(force);
  }
}
