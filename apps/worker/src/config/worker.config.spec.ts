import { inferenceThreadInit, loadWorkerConfig } from './worker.config';

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
