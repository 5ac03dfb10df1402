import {
  Inject,
  Injectable,
  Module,
  type BeforeApplicationShutdown,
  type DynamicModule,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Logger } from 'pino';
import type { ServedModel } from '@fathom/contracts';
import { defaultCacheDir, knownModelOf, specKey } from '@fathom/models';
import { redisSettings, storageSettings } from '@fathom/config';
import {
  BullmqLayout,
  createRedisConnection,
  DeploymentMirror,
  InFlightStore,
  PredictionStream,
  PredictionWriter,
  RedisAvailability,
  WorkerRegistry,
  type RedisClient,
} from '@fathom/queue';
import { BlobStore, createBlobStore } from '@fathom/storage';
import {
  decodeBudgetPixels,
  inferenceThreadInit,
  intraOpThreads,
  libuvThreads,
  poolLimits,
  sharpThreads,
  stallPolicy,
  WORKER_CONFIG,
  type WorkerConfig,
} from './config/worker.config';
import { WorkerHeartbeat } from './heartbeat/worker-heartbeat';
import { DeploymentWatcher } from './deployments/deployment.watcher';
import { ModelServing } from './deployments/model-serving';
import { InferencePool } from './inference/inference.pool';
import { JobExecutionService } from './jobs/job-execution.service';
import { InferencePoolCollector } from './metrics/inference-pool.collector';
import { MetricsServer } from '@fathom/telemetry';
import { modelLabels, WorkerMetrics } from './metrics/worker.metrics';
import type { ModelSelection } from './models/model-selection';
import { consumerConcurrency, servedModel } from './models/served-model';
import { InferenceProcessor } from './processors/inference.processor';
import { PredictionLog } from './predictions/prediction-log';
import { QueueConsumers } from './processors/queue-consumers';

export const LOGGER = Symbol('LOGGER');
export const REDIS = Symbol('REDIS');
export const MODEL_SELECTION = Symbol('MODEL_SELECTION');

/** What main.ts decided before Nest loaded. */
export interface WorkerRuntime {
  /** The OpenTelemetry SDK is running (an OTLP endpoint is configured). */
  tracing: boolean;
  /** More hung inference threads than WORKER_MAX_HUNG_THREADS: drain and exit, for the supervisor to restart the worker. */
  tooManyHungThreads?: (hung: number) => void;
}

/**
 * Start and stop in the one order that loses nothing: metrics served (load progress is visible) →
 * models loaded and warmed → queues consumed → announced as serving → registered deployments
 * watched (loaded and unloaded at runtime, ADR 0015); on SIGTERM, stop watching → stop taking
 * jobs and finish those in flight → withdraw → unload → stop serving metrics.
 */
@Injectable()
export class WorkerLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(MODEL_SELECTION) private readonly selection: ModelSelection,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(InferencePool) private readonly pool: InferencePool,
    @Inject(QueueConsumers) private readonly consumers: QueueConsumers,
    @Inject(WorkerHeartbeat) private readonly heartbeat: WorkerHeartbeat,
    @Inject(MetricsServer) private readonly metricsServer: MetricsServer,
    @Inject(RedisAvailability) private readonly availability: RedisAvailability,
    @Inject(BlobStore) private readonly blobs: BlobStore,
    @Inject(DeploymentWatcher) private readonly deployments: DeploymentWatcher,
    @Inject(PredictionLog) private readonly predictions: PredictionLog,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const metricsUrl = await this.metricsServer.listen(this.config.WORKER_METRICS_PORT, this.config.WORKER_METRICS_HOST);
    this.logger.info({ msg: 'metrics listening', url: metricsUrl });
    // Every session is created and has run one warm-up inference before any queue is consumed.
    const loaded = await this.pool.start();
    const loadedByKey = new Map(loaded.map((m) => [m.key, m]));
    const served: ServedModel[] = this.selection.serve.map((spec) => {
      const info = loadedByKey.get(specKey(spec));
      if (info?.fallbackFrom)
        this.logger.warn({
          msg: 'execution provider fell back',
          model: info.key,
          requested: this.config.ORT_EXECUTION_PROVIDERS[0],
          executionProvider: info.executionProvider,
          reason: info.fallbackFrom,
        });
      if (info?.batchingOff) this.logger.warn({ msg: 'batching off', model: info.key, reason: info.batchingOff });
      this.logger.info({
        msg: 'model loaded',
        model: specKey(spec),
        task: spec.task,
        executionProvider: info?.executionProvider,
        maxBatch: info?.maxBatch,
        loadMs: info?.loadMs,
        warmupMs: info?.warmupMs,
      });
      return servedModel(spec, info);
    });
    await this.heartbeat.declare([
      ...served.map(({ executionProvider: _e, loadMs: _l, warmupMs: _w, ...known }) => known),
      ...this.selection.unavailable.map((u) => knownModelOf(u.spec)),
    ]);
    // Enough jobs in hand to keep every thread busy: a batch running and the next being decoded.
    const concurrency = (model: ServedModel) => consumerConcurrency(this.config, loadedByKey.get(specKey(model))?.maxBatch);
    this.consumers.start(served, concurrency);
    await this.heartbeat.start(served);
    this.deployments.start();
    this.logger.info({
      msg: 'thread pools',
      inferenceThreads: this.config.WORKER_INFERENCE_THREADS,
      ortIntraOpThreads: intraOpThreads(this.config),
      sharpThreads: sharpThreads(this.config),
      libuvThreads: libuvThreads(this.config),
      decodeBudgetMegapixels: decodeBudgetPixels(this.config) / 1e6,
    });
    this.logger.info({
      msg: 'worker ready',
      workerId: this.config.WORKER_ID,
      models: served.map(specKey),
      notServed: this.selection.unavailable.map((u) => specKey(u.spec)),
    });
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.logger.info({ msg: 'shutting down: finishing jobs in flight', signal });
    // A deployment being loaded finishes loading first; then nothing more is loaded or unloaded.
    await this.deployments.stop();
    // Withdraw first: the API stops routing new jobs here while the ones in flight finish.
    await this.heartbeat.withdraw().catch(() => undefined);
    await this.consumers.close();
    await this.pool.close();
    // The finished jobs' records still buffered go to Redis before its connection closes.
    const unlogged = await this.predictions.close();
    if (unlogged > 0) this.logger.warn({ msg: 'prediction records not handed to Redis at shutdown', records: unlogged });
    await this.blobs.close();
    this.availability.stop();
    await this.redis.quit().catch(() => this.redis.disconnect());
    await this.metricsServer.close();
    this.logger.info({ msg: 'worker stopped' });
  }
}

@Module({})
export class WorkerModule {
  static forRoot(config: WorkerConfig, selection: ModelSelection, logger: Logger, runtime: WorkerRuntime): DynamicModule {
    return {
      module: WorkerModule,
      providers: [
        { provide: WORKER_CONFIG, useValue: config },
        { provide: MODEL_SELECTION, useValue: selection },
        { provide: LOGGER, useValue: logger },
        { provide: REDIS, useFactory: () => createRedisConnection(redisSettings(config), 'commands') },
        {
          // Probed as often as the heartbeat beats: a beat lost to an outage is re-sent as soon as Redis answers.
          provide: RedisAvailability,
          inject: [REDIS],
          useFactory: (redis: RedisClient) => new RedisAvailability(redis, logger, Math.min(1_000, config.WORKER_HEARTBEAT_MS)).start(),
        },
        { provide: BlobStore, useFactory: () => createBlobStore(storageSettings(config), config.REDIS_PREFIX) },
        // The provider every session asks for first; a session on another one fell back.
        { provide: WorkerMetrics, useFactory: () => new WorkerMetrics(config.ORT_EXECUTION_PROVIDERS[0] ?? 'cpu') },
        { provide: MetricsServer, inject: [WorkerMetrics], useFactory: (metrics: WorkerMetrics) => new MetricsServer(metrics.registry) },
        {
          provide: InferencePool,
          inject: [WorkerMetrics],
          useFactory: (metrics: WorkerMetrics) => {
            // The pool's own specs: models loaded at runtime are labelled like those loaded at start.
            const labelsOf = new Map(selection.serve.map((spec) => [specKey(spec), modelLabels(spec)]));
            const labelsFor = (key: string) => {
              const spec = pool.spec(key);
              if (spec && !labelsOf.has(key)) labelsOf.set(key, modelLabels(spec));
              return labelsOf.get(key);
            };
            const pool: InferencePool = new InferencePool(
              inferenceThreadInit(config, selection.serve),
              config.WORKER_INFERENCE_THREADS,
              {
                onThreadExit: (message) => logger.error({ msg: message }),
                onModelsLoaded: (models) =>
                  metrics.modelsLoaded(
                    models.flatMap((loaded) => {
                      const labels = labelsFor(loaded.key);
                      return labels ? [{ labels, loaded }] : [];
                    }),
                  ),
                onModelUnloaded: (key) => {
                  const labels = labelsOf.get(key);
                  labelsOf.delete(key);
                  if (labels) metrics.modelUnloaded(key, labels);
                },
                onBatch: (modelKey, size, seconds) => {
                  const labels = labelsFor(modelKey);
                  if (labels) metrics.batchRan(labels, size, seconds);
                },
                onThreadHung: ({ stage, limitMs, hung }) =>
                  logger.error({
                    msg: 'inference thread retired: a stage outlasted its limit; a new thread replaces it',
                    stage,
                    limitMs,
                    hung,
                  }),
                onHungThreadExit: (seconds) =>
                  logger.warn({ msg: 'a retired inference thread returned and left', retiredSeconds: seconds }),
                onTooManyHung: (hung) => {
                  logger.error({
                    msg: 'too many hung inference threads: draining, then exiting',
                    hung,
                    max: config.WORKER_MAX_HUNG_THREADS,
                  });
                  runtime.tooManyHungThreads?.(hung);
                },
              },
              poolLimits(config),
            );
            return pool;
          },
        },
        {
          provide: InferencePoolCollector,
          inject: [WorkerMetrics, InferencePool],
          useFactory: (metrics: WorkerMetrics, pool: InferencePool) => new InferencePoolCollector(metrics.registry, pool),
        },
        {
          // Records go to the Redis stream in batches, off the job path; while Redis does not take
          // them they wait here, a few thousand at most (the stream itself holds PREDICTION_BUFFER).
          provide: PredictionLog,
          inject: [REDIS, WorkerMetrics],
          useFactory: (redis: RedisClient, metrics: WorkerMetrics) => {
            const stream = new PredictionStream(redis, config.REDIS_PREFIX, config.PREDICTION_BUFFER);
            const writer = new PredictionWriter(
              { write: (records) => stream.append(records) },
              {
                // Short: a SIGKILLed worker loses what it had not handed over (SIGTERM flushes it).
                flushMs: 25,
                batchSize: 100,
                maxBuffered: 5_000,
                onDropped: (count) => metrics.predictionRecordsDropped(count),
                onError: (error) => logger.debug({ msg: 'prediction records not handed to Redis yet', error: (error as Error).message }),
              },
            );
            return new PredictionLog(writer, metrics, logger);
          },
        },
        {
          provide: JobExecutionService,
          inject: [InferencePool, BlobStore, WorkerMetrics, PredictionLog],
          useFactory: (pool: InferencePool, blobs: BlobStore, metrics: WorkerMetrics, predictions: PredictionLog) =>
            new JobExecutionService(pool, blobs, config.WORKER_ID, logger, metrics, predictions),
        },
        {
          provide: InferenceProcessor,
          inject: [JobExecutionService, WorkerMetrics, REDIS, PredictionLog],
          useFactory: (execution: JobExecutionService, metrics: WorkerMetrics, redis: RedisClient, predictions: PredictionLog) =>
            new InferenceProcessor(
              execution,
              metrics,
              logger,
              new InFlightStore(redis, config.REDIS_PREFIX, new BullmqLayout(redis, config.REDIS_PREFIX), config.STORAGE_RETENTION_SECONDS),
              predictions,
            ),
        },
        {
          provide: QueueConsumers,
          inject: [InferenceProcessor, WorkerMetrics, RedisAvailability],
          useFactory: (processor: InferenceProcessor, metrics: WorkerMetrics, availability: RedisAvailability) =>
            new QueueConsumers(
              {
                redis: redisSettings(config),
                prefix: config.REDIS_PREFIX,
                tracing: runtime.tracing,
                workerId: config.WORKER_ID,
                stalls: stallPolicy(config),
              },
              processor,
              metrics,
              logger,
              availability,
            ),
        },
        {
          provide: WorkerHeartbeat,
          inject: [REDIS, RedisAvailability],
          useFactory: (redis: RedisClient, availability: RedisAvailability) =>
            new WorkerHeartbeat(
              new WorkerRegistry(redis, config.REDIS_PREFIX, config.WORKER_HEARTBEAT_TTL_MS),
              config.WORKER_ID,
              config.WORKER_HEARTBEAT_MS,
              logger,
              availability,
              config.WORKER_LABELS,
            ),
        },
        {
          provide: DeploymentWatcher,
          inject: [REDIS, RedisAvailability, BlobStore, InferencePool, QueueConsumers, WorkerHeartbeat],
          useFactory: (
            redis: RedisClient,
            availability: RedisAvailability,
            blobs: BlobStore,
            pool: InferencePool,
            consumers: QueueConsumers,
            heartbeat: WorkerHeartbeat,
          ) =>
            new DeploymentWatcher(
              new DeploymentMirror(redis, config.REDIS_PREFIX),
              // XREAD BLOCK holds a connection: one of its own, watched like the consumers' (an outage logged once).
              availability.watch(createRedisConnection(redisSettings(config), 'blocking'), 'deployments watcher'),
              blobs,
              new ModelServing({ pool, consumers, heartbeat, config }),
              (reports) => heartbeat.reportDeployments(reports),
              {
                labels: config.WORKER_LABELS,
                budgetBytes: config.WORKER_MEMORY_BUDGET_MB * 1024 * 1024,
                threads: config.WORKER_INFERENCE_THREADS,
                cacheDir: defaultCacheDir(config),
                local: selection.serve,
              },
              logger,
              availability,
            ),
        },
        WorkerLifecycle,
      ],
    };
  }
}
