import { recoveryBoundMs, stallWorkerOptions } from '@fathom/queue';
import {
  decodeBudgetPixels,
  DECODE_BYTES_PER_PIXEL,
  inferenceThreadInit,
  libuvThreads,
  loadWorkerConfig,
  poolLimits,
  stallPolicy,
} from './worker.config';
import { libuvEnv, libuvThreadPoolSize } from './libuv.env';

describe('worker metrics config', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:6379' };

  it('serves /metrics on 0.0.0.0:9464 by default; 0 asks for any free port', () => {
    expect(loadWorkerConfig(base)).toMatchObject({ WORKER_METRICS_PORT: 9464, WORKER_METRICS_HOST: '0.0.0.0' });
    expect(loadWorkerConfig({ ...base, WORKER_METRICS_PORT: '0', WORKER_METRICS_HOST: '127.0.0.1' })).toMatchObject({
      WORKER_METRICS_PORT: 0,
      WORKER_METRICS_HOST: '127.0.0.1',
    });
  });

  it('refuses a port that is not one, naming the variable', () => {
    expect(() => loadWorkerConfig({ ...base, WORKER_METRICS_PORT: '70000' })).toThrow(/WORKER_METRICS_PORT/);
    expect(() => loadWorkerConfig({ ...base, WORKER_METRICS_PORT: 'metrics' })).toThrow(/WORKER_METRICS_PORT/);
  });
});

describe('worker PNG config', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:6379' };

  it('writes results at zlib level 3 unless told otherwise, and hands the level to the inference threads', () => {
    expect(inferenceThreadInit(loadWorkerConfig(base), []).png).toEqual({ compressionLevel: 3 });
    expect(inferenceThreadInit(loadWorkerConfig({ ...base, WORKER_PNG_COMPRESSION_LEVEL: '9' }), []).png).toEqual({ compressionLevel: 9 });
  });

  it('refuses a level zlib does not have, naming the variable', () => {
    expect(() => loadWorkerConfig({ ...base, WORKER_PNG_COMPRESSION_LEVEL: '10' })).toThrow(/WORKER_PNG_COMPRESSION_LEVEL/);
  });
});

describe('worker limits shared with the API', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:6379' };

  it('hands IMAGE_MAX_PIXELS to the inference threads, and refuses the old WORKER_MAX_PIXELS by name', () => {
    expect(inferenceThreadInit(loadWorkerConfig({ ...base, IMAGE_MAX_PIXELS: '1000000' }), []).maxPixels).toBe(1_000_000);
    expect(() => loadWorkerConfig({ ...base, WORKER_MAX_PIXELS: '1000000' })).toThrow(
      /WORKER_MAX_PIXELS: renamed IMAGE_MAX_PIXELS; set IMAGE_MAX_PIXELS instead/,
    );
  });
});

describe("libuv's thread pool", () => {
  it('gets 2 threads per inference thread above 2 threads, unless UV_THREADPOOL_SIZE is set', () => {
    const size = (env: Record<string, string>) => libuvThreadPoolSize(libuvEnv.parse(env));
    expect(size({})).toBeUndefined();
    expect(size({ WORKER_INFERENCE_THREADS: '2' })).toBeUndefined();
    expect(size({ WORKER_INFERENCE_THREADS: '6' })).toBe(12);
    expect(size({ WORKER_INFERENCE_THREADS: '6', UV_THREADPOOL_SIZE: '5' })).toBeUndefined();
  });

  it('reports the size in force, libuv default 4 when unset', () => {
    const base = { REDIS_URL: 'redis://127.0.0.1:6379' };
    expect(libuvThreads(loadWorkerConfig(base))).toBe(4);
    expect(libuvThreads(loadWorkerConfig({ ...base, UV_THREADPOOL_SIZE: '12' }))).toBe(12);
    expect(() => loadWorkerConfig({ ...base, UV_THREADPOOL_SIZE: '0' })).toThrow(/UV_THREADPOOL_SIZE/);
  });
});

describe('worker heartbeat config', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:6379' };

  it('renews the heartbeat more often than it expires', () => {
    expect(loadWorkerConfig(base)).toMatchObject({ WORKER_HEARTBEAT_MS: 5_000, WORKER_HEARTBEAT_TTL_MS: 15_000 });
    expect(() => loadWorkerConfig({ ...base, WORKER_HEARTBEAT_MS: '15000' })).toThrow(
      /WORKER_HEARTBEAT_MS: must be shorter than WORKER_HEARTBEAT_TTL_MS.* \(got "15000"\)/,
    );
  });
});

describe('recovering the jobs of a worker that died', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:6379' };

  it('holds locks for 8 s renewed every 4 s, checks every 3 s and allows one stall: a lost job runs again within 14 s', () => {
    const policy = stallPolicy(loadWorkerConfig(base));
    expect(policy).toEqual({ lockDurationMs: 8_000, stalledIntervalMs: 3_000, maxStalledCount: 1 });
    expect(stallWorkerOptions(policy)).toEqual({ lockDuration: 8_000, lockRenewTime: 4_000, stalledInterval: 3_000, maxStalledCount: 1 });
    expect(recoveryBoundMs(policy)).toBe(14_000);
  });

  it('takes other values, and refuses a check rarer than the lock lasts or a lock under a second, naming the variable', () => {
    const env = { ...base, WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000', WORKER_MAX_STALLED_COUNT: '0' };
    expect(stallPolicy(loadWorkerConfig(env))).toEqual({ lockDurationMs: 2000, stalledIntervalMs: 1000, maxStalledCount: 0 });
    expect(() => loadWorkerConfig({ ...env, WORKER_STALLED_INTERVAL_MS: '3000' })).toThrow(/WORKER_STALLED_INTERVAL_MS/);
    expect(() => loadWorkerConfig({ ...env, WORKER_LOCK_DURATION_MS: '500' })).toThrow(/WORKER_LOCK_DURATION_MS/);
    expect(() => loadWorkerConfig({ ...env, WORKER_MAX_STALLED_COUNT: '-1' })).toThrow(/WORKER_MAX_STALLED_COUNT/);
  });

  it('waits 30 s for jobs in flight on shutdown unless WORKER_SHUTDOWN_GRACE_MS says otherwise, refusing a negative grace', () => {
    expect(loadWorkerConfig(base).WORKER_SHUTDOWN_GRACE_MS).toBe(30_000);
    expect(loadWorkerConfig({ ...base, WORKER_SHUTDOWN_GRACE_MS: '0' }).WORKER_SHUTDOWN_GRACE_MS).toBe(0);
    expect(() => loadWorkerConfig({ ...base, WORKER_SHUTDOWN_GRACE_MS: '-1' })).toThrow(/WORKER_SHUTDOWN_GRACE_MS/);
  });
});

describe('worker decode budget', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:6379' };
  const GiB = 2 ** 30;

  it('is a quarter of the worker’s memory at the measured bytes per pixel unless set: a 2 GiB container runs a 40 MP image alone', () => {
    const budget = decodeBudgetPixels(loadWorkerConfig(base), 2 * GiB);
    expect(budget).toBe(Math.floor((2 * GiB) / 4 / DECODE_BYTES_PER_PIXEL));
    expect(budget).toBeLessThan(40e6);
    expect(decodeBudgetPixels(loadWorkerConfig({ ...base, WORKER_DECODE_BUDGET_MEGAPIXELS: '120' }), 2 * GiB)).toBe(120e6);
  });

  it('is at most one image at the pixel limit per inference thread on a large machine', () => {
    expect(decodeBudgetPixels(loadWorkerConfig(base), 64 * GiB)).toBe(40e6);
    const env = { ...base, IMAGE_MAX_PIXELS: '25000000', WORKER_INFERENCE_THREADS: '3' };
    expect(decodeBudgetPixels(loadWorkerConfig(env), 64 * GiB)).toBe(75e6);
  });

  it('refuses a budget that is not a whole number of megapixels, naming the variable', () => {
    expect(() => loadWorkerConfig({ ...base, WORKER_DECODE_BUDGET_MEGAPIXELS: '-1' })).toThrow(/WORKER_DECODE_BUDGET_MEGAPIXELS/);
    expect(() => loadWorkerConfig({ ...base, WORKER_DECODE_BUDGET_MEGAPIXELS: 'lots' })).toThrow(/WORKER_DECODE_BUDGET_MEGAPIXELS/);
  });
});

describe('worker stage limits config', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:6379' };

  it('gives a large image on CPU minutes by default, and hands each limit to the pool', () => {
    expect(poolLimits(loadWorkerConfig(base))).toMatchObject({
      stages: { decode: 60_000, inference: 300_000, encode: 60_000 },
      maxHungThreads: 2,
    });
    const tight = {
      WORKER_DECODE_TIMEOUT_MS: '200',
      WORKER_INFERENCE_TIMEOUT_MS: '300',
      WORKER_ENCODE_TIMEOUT_MS: '400',
      WORKER_MAX_HUNG_THREADS: '0',
    };
    expect(poolLimits(loadWorkerConfig({ ...base, ...tight }))).toMatchObject({
      stages: { decode: 200, inference: 300, encode: 400 },
      maxHungThreads: 0,
    });
  });

  it('refuses a limit too short to decode anything, naming the variable', () => {
    expect(() => loadWorkerConfig({ ...base, WORKER_INFERENCE_TIMEOUT_MS: '0' })).toThrow(/WORKER_INFERENCE_TIMEOUT_MS/);
    expect(() => loadWorkerConfig({ ...base, WORKER_MAX_HUNG_THREADS: '-1' })).toThrow(/WORKER_MAX_HUNG_THREADS/);
  });
});

describe('worker labels and memory budget (deployments, ADR 0015)', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:6379' };

  it('reads WORKER_LABELS as name=value pairs; none by default; no memory budget by default', () => {
    expect(loadWorkerConfig(base)).toMatchObject({ WORKER_LABELS: {}, WORKER_MEMORY_BUDGET_MB: 0 });
    expect(loadWorkerConfig({ ...base, WORKER_LABELS: ' gpu=a100, pool=depth ,zone=', WORKER_MEMORY_BUDGET_MB: '2048' })).toMatchObject({
      WORKER_LABELS: { gpu: 'a100', pool: 'depth', zone: '' },
      WORKER_MEMORY_BUDGET_MB: 2048,
    });
  });

  it('refuses a label that is not name=value, a name given twice, or characters a selector cannot hold, naming the variable', () => {
    expect(() => loadWorkerConfig({ ...base, WORKER_LABELS: 'gpu' })).toThrow(/WORKER_LABELS: "gpu" is not name=value/);
    expect(() => loadWorkerConfig({ ...base, WORKER_LABELS: 'gpu=a,gpu=b' })).toThrow(/WORKER_LABELS: label "gpu" is given twice/);
    expect(() => loadWorkerConfig({ ...base, WORKER_LABELS: 'g pu=a100' })).toThrow(
      /WORKER_LABELS: "g pu=a100": a label name: letters, digits/,
    );
    expect(() => loadWorkerConfig({ ...base, WORKER_LABELS: 'gpu=a/100' })).toThrow(
      /WORKER_LABELS: "gpu=a\/100": a label value: letters, digits/,
    );
    expect(() => loadWorkerConfig({ ...base, WORKER_MEMORY_BUDGET_MB: '-1' })).toThrow(/WORKER_MEMORY_BUDGET_MB/);
  });
});
