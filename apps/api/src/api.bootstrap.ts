import multipart from '@fastify/multipart';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { Logger } from 'nestjs-pino';
import { ApiModule } from './api.module';
import { installHttpObservability } from './common/http-observability';
import type { TracingState } from './common/tracing';
import type { ApiConfig } from './config/api.config';
import { ApiMetrics } from './metrics/api-metrics';

/**
 * Builds the API application (not yet listening): main.ts and the tests share it. `tracing` says
 * whether the OpenTelemetry SDK was started (instrumentation.ts); off, nothing reads trace context.
 */
export async function createApiApp(config: ApiConfig, tracing: TracingState = { enabled: false }): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: 1024 * 1024, trustProxy: true });
  const app = await NestFactory.create<NestFastifyApplication>(ApiModule.forRoot(config, tracing), adapter, { bufferLogs: true });
  app.useLogger(app.get(Logger));
  // Before app.init(): Fastify attaches root hooks to the routes Nest registers there.
  installHttpObservability(adapter.getInstance(), app.get(ApiMetrics), tracing.enabled);
  await app.register(multipart, {
    limits: { fileSize: config.API_MAX_UPLOAD_BYTES, files: 1, fields: 8, parts: 10, fieldSize: 64 * 1024 },
  });
  app.useWebSocketAdapter(new IoAdapter(app));
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Fathom')
      .setDescription(
        'Queue-backed asynchronous inference for image models. Submit with POST /v1/jobs, then poll GET /v1/jobs/{id} ' +
          'or connect socket.io to the /jobs namespace and emit `subscribe` {jobId} for job.progress, job.completed and job.failed.',
      )
      .setVersion('0.1.0')
      .build(),
  );
  SwaggerModule.setup('docs', app, cleanupOpenApiDoc(document), { jsonDocumentUrl: 'docs/openapi.json' });
  await app.init();
  return app;
}

export async function listen(app: NestFastifyApplication, config: Pick<ApiConfig, 'PORT' | 'HOST'>): Promise<string> {
  await app.listen({ port: config.PORT, host: config.HOST });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  return `http://${host}:${port}`;
}
