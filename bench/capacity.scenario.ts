import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { depthModelsDir, FathomStack, LOAD_TEST_LIMITS_ENV, NULL_MODEL_INPUT, type ApiInstance } from '../test/support/fathom-stack';
import { greyBenchImage, type BenchImage } from './bench-images';
import { round1 } from './bench-stats';
import { connectClients, driveClients, type LoadClient } from './load-driver';
import { cpuMsPerJob, cpuSnapshot } from './process-stats';
import { commandStats, infoFields } from './redis-info';
import { redisInfo } from './process-metrics';
import type { BenchContext, ScenarioResult } from './scenario';

const MODEL = 'null-depth';
const CLIENTS = 8;

interface Window {
  jobs: number;
  seconds: number;
  commands: Record<string, { calls: number; usec: number }>;
  stats: Record<string, number>;
  cpuMsPerJob: Record<string, number>;
  db: { xactCommit: number; tupInserted: number; tupUpdated: number };
}

/**
 * What one job costs: Redis commands and bytes, PostgreSQL transactions and rows, and each
 * process's CPU, from N null-model jobs through the real stack (API, worker, redis-server,
 * PostgreSQL), read from Redis's INFO (after CONFIG RESETSTAT), pg_stat_database and /proc.
 * Then the same again with a second API instance, to measure what each API's QueueEvents reader
 * adds. docs/capacity.md turns these into what saturates first.
 */
export async function capacityScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const jobs = ctx.quick ? 200 : 1_000;
  const image = await greyBenchImage();
  const stack = await FathomStack.start();
  const redis = new Redis(stack.redis.url);
  const db = new Client({ connectionString: stack.database.url });
  try {
    await db.connect();
    const redisPid = (await redisInfo(stack.redis.url)).pid;
    const api1 = await stack.startApi(LOAD_TEST_LIMITS_ENV);
    const worker = await stack.startWorker({
      MODELS_DIR: depthModelsDir(undefined, MODEL, NULL_MODEL_INPUT),
      WORKER_BUILTIN_MODELS: 'false',
      WORKER_CONCURRENCY: String(CLIENTS),
    });
    const memoryBefore = infoFields(await redis.info('memory')).used_memory!;
    const keysBefore = await redis.dbsize();
    const pids = { api1: api1.process.child.pid, worker: worker.child.pid, redis: redisPid, driver: process.pid };
    const one = await measureWindow([api1], image, jobs, redis, db, pids);
    const memoryAfter = infoFields(await redis.info('memory')).used_memory!;
    const keysAfter = await redis.dbsize();
    const blobs = await blobBytes(redis);
    // Every job so far, the warm-up's too, left its result for STORAGE_RETENTION_SECONDS.
    const keptJobs = one.jobs + CLIENTS * 2;

    const api2 = await stack.startApi(LOAD_TEST_LIMITS_ENV);
    const two = await measureWindow([api1, api2], image, jobs, redis, db, { ...pids, api2: api2.process.child.pid });

    const predictionLog = await predictionLogInserts(db, ctx.quick ? 1_000 : 3_000);

    const perJob = (w: Window, value: number) => round1(value / w.jobs);
    const totalCalls = (w: Window) => Object.values(w.commands).reduce((sum, c) => sum + c.calls, 0);
    const topCommands = Object.entries(one.commands)
      .sort((a, b) => b[1].calls - a[1].calls)
      .map(([name, c]) => [name, perJob(one, c.calls)] as const)
      .filter(([, calls]) => calls >= 0.1);
    return {
      scenario: 'capacity',
      model: `${MODEL}@1.0.0`,
      standIn:
        'null model: the generated depth stand-in (mean of the channels) at a fixed 28×28 input, well under 1 ms, so the service is all that costs',
      command: ctx.command,
      setup: {
        image: `64×48 PNG, ${image.bytes.length} bytes`,
        load: `${CLIENTS} closed-loop socket.io clients (POST /v1/jobs, job.completed, GET the artifact), ${jobs} jobs per window after ${CLIENTS * 2} warm-up; window 1: one API; window 2: two APIs, the clients split between them`,
        counters:
          'Redis INFO commandstats and stats after CONFIG RESETSTAT (commands run inside BullMQ’s Lua scripts are counted under their own names too, so the per-name calls are work done, not round trips), INFO memory, DBSIZE, STRLEN of the blob keys; pg_stat_database (flushed lazily by PostgreSQL 15, so a fraction is noise); /proc CPU',
        predictionLog:
          'no prediction log exists yet: rows shaped like one (job id, model, version, status, timings as jsonb, a timestamp) inserted into a table of the test database, one autocommitted INSERT at a time, then in multi-row INSERTs of 500',
        loadAverage: loadavg().map(round1).join(' / ') + ' (1, 5, 15 min, at the end: other work shares the host)',
        processes: `one redis-server, PostgreSQL (the machine's), the APIs, one worker (WORKER_CONCURRENCY ${CLIENTS}) and this driver on the same ${availableParallelism()} cores`,
      },
      figures: {
        jobsPerSecond: round1(one.jobs / one.seconds),
        redisCommandsPerJob: perJob(one, totalCalls(one)),
        redisCommandsPerJobByName: Object.fromEntries(topCommands),
        luaScriptCallsPerJob: perJob(one, one.commands.evalsha?.calls ?? 0),
        redisNetBytesPerJob: {
          in: Math.round(one.stats.total_net_input_bytes! / one.jobs),
          out: Math.round(one.stats.total_net_output_bytes! / one.jobs),
        },
        redisMemoryBytesPerJobKept: Math.round((memoryAfter - memoryBefore) / (one.jobs + CLIENTS * 2)),
        redisKeysPerJobKept: round1((keysAfter - keysBefore) / (one.jobs + CLIENTS * 2)),
        blobBytesPerJob: {
          uploaded: image.bytes.length,
          inputsKept: Math.round(blobs.input / keptJobs),
          resultsKept: Math.round(blobs.result / keptJobs),
          resultKeys: round1(blobs.resultKeys / keptJobs),
        },
        cpuMsPerJob: one.cpuMsPerJob,
        postgresPerJob: {
          transactions: perJob(one, one.db.xactCommit),
          rowsInserted: perJob(one, one.db.tupInserted),
          rowsUpdated: perJob(one, one.db.tupUpdated),
        },
        predictionLogRowsPerSecond: predictionLog,
        withTwoApis: {
          jobsPerSecond: round1(two.jobs / two.seconds),
          redisCommandsPerJob: perJob(two, totalCalls(two)),
          xreadPerJob: perJob(two, two.commands.xread?.calls ?? 0),
          redisNetOutBytesPerJob: Math.round(two.stats.total_net_output_bytes! / two.jobs),
          cpuMsPerJob: two.cpuMsPerJob,
        },
        addedBySecondApi: {
          redisNetOutBytesPerJob: Math.round(two.stats.total_net_output_bytes! / two.jobs - one.stats.total_net_output_bytes! / one.jobs),
          xreadPerJob: round1((two.commands.xread?.calls ?? 0) / two.jobs - (one.commands.xread?.calls ?? 0) / one.jobs),
          redisCpuMsPerJob: round1((two.cpuMsPerJob.redis ?? NaN) - (one.cpuMsPerJob.redis ?? NaN)),
        },
      },
    };
  } finally {
    redis.disconnect();
    await db.end().catch(() => undefined);
    await stack.stop();
  }
}

async function measureWindow(
  apis: ApiInstance[],
  image: BenchImage,
  jobs: number,
  redis: Redis,
  db: Client,
  pids: Record<string, number | undefined>,
): Promise<Window> {
  const clients: LoadClient[] = (
    await Promise.all(apis.map((api) => connectClients(api, MODEL, 'socket', Math.ceil(CLIENTS / apis.length))))
  ).flat();
  try {
    await driveClients(clients, [image], CLIENTS * 2);
    await redis.config('RESETSTAT');
    const dbBefore = await dbStats(db);
    const cpuBefore = cpuSnapshot(pids);
    const run = await driveClients(clients, [image], jobs);
    const cpuAfter = cpuSnapshot(pids);
    const dbAfter = await dbStats(db);
    // Our own INFO calls are in the counts: two of them against thousands of commands.
    const [commands, stats] = await Promise.all([redis.info('commandstats'), redis.info('stats')]);
    return {
      jobs,
      seconds: run.seconds,
      commands: commandStats(commands),
      stats: infoFields(stats),
      cpuMsPerJob: cpuMsPerJob(cpuBefore, cpuAfter, jobs),
      db: {
        xactCommit: dbAfter.xactCommit - dbBefore.xactCommit,
        tupInserted: dbAfter.tupInserted - dbBefore.tupInserted,
        tupUpdated: dbAfter.tupUpdated - dbBefore.tupUpdated,
      },
    };
  } finally {
    for (const client of clients) client.close();
  }
}

async function dbStats(db: Client): Promise<{ xactCommit: number; tupInserted: number; tupUpdated: number }> {
  // The statistics collector lags; a snapshot clear makes this transaction read fresh counters.
  await db.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await db.query<{ xact_commit: string; tup_inserted: string; tup_updated: string }>(
    'SELECT xact_commit, tup_inserted, tup_updated FROM pg_stat_database WHERE datname = current_database()',
  );
  const row = rows[0]!;
  return { xactCommit: Number(row.xact_commit), tupInserted: Number(row.tup_inserted), tupUpdated: Number(row.tup_updated) };
}

/** Bytes held in the blob keys (inputs and results) and how many result keys. */
async function blobBytes(redis: Redis): Promise<{ input: number; result: number; resultKeys: number }> {
  const sum = async (pattern: string) => {
    let bytes = 0;
    let keys = 0;
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      const lengths = await Promise.all(found.map((key) => redis.strlen(key)));
      bytes += lengths.reduce((a, b) => a + b, 0);
      keys += found.length;
    } while (cursor !== '0');
    return { bytes, keys };
  };
  // Inputs are deleted by the worker once their job is done; results stay until they expire.
  const [input, result] = await Promise.all([sum('*:blob:input:*'), sum('*:blob:result:*')]);
  return { input: input.bytes, result: result.bytes, resultKeys: result.keys };
}

/**
 * How fast this PostgreSQL takes rows shaped like a per-job prediction log: one committed INSERT
 * each (one WAL flush per row), against multi-row INSERTs of 500.
 */
async function predictionLogInserts(db: Client, rows: number): Promise<{ onePerCommit: number; batchesOf500: number }> {
  await db.query(
    'CREATE TABLE bench_prediction_log (job_id text PRIMARY KEY, model text, version text, status text, timings jsonb, created_at timestamptz DEFAULT now())',
  );
  const timings = JSON.stringify({ queueMs: 3.2, decodeMs: 1.1, inferenceMs: 50.4, encodeMs: 2.3, totalMs: 58.9 });
  try {
    let started = performance.now();
    for (let i = 0; i < rows; i++)
      await db.query('INSERT INTO bench_prediction_log (job_id, model, version, status, timings) VALUES ($1, $2, $3, $4, $5)', [
        `single-${i}`,
        MODEL,
        '1.0.0',
        'completed',
        timings,
      ]);
    const onePerCommit = Math.round(rows / ((performance.now() - started) / 1000));
    started = performance.now();
    const batch = 500;
    for (let i = 0; i < rows * 4; i += batch) {
      const values = Array.from({ length: batch }, (_, k) => `($${k * 2 + 1}, '${MODEL}', '1.0.0', 'completed', $${k * 2 + 2})`).join(', ');
      const params = Array.from({ length: batch }, (_, k) => [`batch-${i + k}`, timings]).flat();
      await db.query(`INSERT INTO bench_prediction_log (job_id, model, version, status, timings) VALUES ${values}`, params);
    }
    const batchesOf500 = Math.round((rows * 4) / ((performance.now() - started) / 1000));
    return { onePerCommit, batchesOf500 };
  } finally {
    await db.query('DROP TABLE bench_prediction_log');
  }
}
