import './libuv-threads';
import { tracing } from './instrumentation';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import { ConfigError, redactCrashLogs, redactSecrets } from '@fathom/config';
import { defaultCacheDir, inspectWeights, loadCatalog, ModelCatalogError, specKey } from '@fathom/models';
import pino, { type Logger } from 'pino';
import { createLogger, MetricsListenError, PinoNestLogger } from '@fathom/telemetry';
import { loadWorkerConfig } from './config/worker.config';
import { InferencePool, ModelLoadError } from './inference/inference.pool';
import { selectModels } from './models/model-selection';
import { WorkerModule, type WorkerRuntime } from './worker.module';

async function main(): Promise<void> {
  redactCrashLogs();
  const config = loadWorkerConfig();
  const logger = createLogger('fathom-worker', config.LOG_LEVEL).child({ workerId: config.WORKER_ID });
  const cacheDir = defaultCacheDir(config); // the same folder `npm run models` and `npm start` use
  const catalog = loadCatalog({ builtin: config.WORKER_BUILTIN_MODELS, modelsDir: config.MODELS_DIR, cacheDir });
  const selection = selectModels(catalog, config.WORKER_MODELS);
  for (const { spec, reason } of selection.unavailable)
    logger.warn({ msg: 'model not served: weights missing', model: specKey(spec), reason });
  // Models registered over REST are loaded at runtime (ADR 0015): a worker may start with none of its own.
  if (selection.serve.length === 0) {
    logger.warn({
      msg: 'no local model to serve: only registered deployments will be (set MODELS_DIR, leave WORKER_BUILTIN_MODELS on, or pull a model: npm run models -- list)',
    });
  }
  // A Git LFS pointer or a saved HTML page would fail deep in onnxruntime as "Protobuf parsing failed".
  for (const spec of selection.serve) {
    const problem = await inspectWeights(spec.weights);
    if (problem) throw new ModelCatalogError(`${spec.manifestFile}: weights ${problem.message}`);
  }
  let stopping = false;
  /**
   * Stops taking jobs, finishes those in flight (for WORKER_SHUTDOWN_GRACE_MS at most) and exits
   * with `code`: on SIGTERM/SIGINT, and with 1 when too many inference threads hang (ADR 0009).
   */
  const stop = (code: number, why: Record<string, unknown>): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ msg: 'stopping', ...why });
    // Past the grace, the jobs still in flight are left to stalled-job recovery: their locks
    // expire and another worker runs them again (a stall in their status).
    const grace = setTimeout(() => {
      logger.warn({
        msg: 'shutdown grace elapsed: exiting with jobs in flight; another worker runs them again once their locks expire',
        graceMs: config.WORKER_SHUTDOWN_GRACE_MS,
        lockDurationMs: config.WORKER_LOCK_DURATION_MS,
      });
      exitAfterFlush(code, { pool, logger });
    }, config.WORKER_SHUTDOWN_GRACE_MS);
    app.close().then(
      () => {
        clearTimeout(grace);
        exitAfterFlush(code, { pool, logger });
      },
      (error: Error) => {
        clearTimeout(grace);
        logger.error({ msg: 'shutdown failed', error: error.message });
        exitAfterFlush(1, { pool, logger });
      },
    );
  };
  // A worker is a Nest application context: no HTTP server, just providers with a lifecycle.
  const runtime: WorkerRuntime = {
    tracing: tracing.enabled,
    tooManyHungThreads: (hung) =>
      stop(1, { reason: 'too many hung inference threads: restart wanted', hung, max: config.WORKER_MAX_HUNG_THREADS }),
  };
  // Declared after `stop`, which runs only once they are set: on a signal or a hung thread, after init.
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, selection, logger, runtime), {
    logger: new PinoNestLogger(logger),
  });
  await app.init();
  const pool = app.get(InferencePool);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(0, { signal }));
}

/**
 * Exports the spans still buffered, then exits; an unreachable collector delays exit by 5 s at
 * most. With a hung inference thread, process.exit would wait for its native call to return (for
 * ever, if it never does) and then abort the process: it dies of SIGKILL instead, at once, once
 * its log lines are written (ADR 0009).
 */
function exitAfterFlush(code: number, worker?: { pool: InferencePool; logger: Logger }): void {
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref());
  void Promise.race([tracing.shutdown().catch(() => undefined), timeout]).then(() => {
    const hung = worker?.pool.hungThreads ?? 0;
    if (!worker || hung === 0) process.exit(code);
    worker.logger.error({ msg: 'exiting by SIGKILL: hung inference threads would hold process.exit', hung, code });
    killOnceLogged(worker.logger);
  });
}

/**
 * SIGKILL once pino has written every line it holds: its stdout stream writes asynchronously (the
 * line just logged started a write, and 'drain' follows the last), and a kill would drop the rest.
 */
function killOnceLogged(logger: Logger): void {
  const kill = () => process.kill(process.pid, 'SIGKILL');
  setTimeout(kill, 1_000);
  const stream = (logger as unknown as Record<symbol, EventEmitter | undefined>)[pino.symbols.streamSym];
  if (stream) stream.once('drain', kill);
  else kill();
}

main().catch((error: unknown) => {
  const known =
    error instanceof ConfigError ||
    error instanceof ModelCatalogError ||
    error instanceof ModelLoadError ||
    error instanceof MetricsListenError;
  // A ConfigError's message already starts with the service's name. Secrets never reach the
  // crash log: an ioredis error carries its command (AUTH's password among its arguments).
  const text = error instanceof ConfigError ? error.message : known ? `fathom-worker: ${error.message}` : inspect(error);
  console.error(redactSecrets(text));
  exitAfterFlush(1);
});
