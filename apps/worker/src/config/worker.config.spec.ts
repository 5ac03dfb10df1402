import { loadWorkerConfig } from './worker.config';

describe('worker metrics config', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:6379' };

  it('serves /metrics on 0.0.0.0:9464 by default; 0 asks for any free port', () => {
    expect(loadWorkerConfig(base)).toMatchObject({ WORKER_METRICS_PORT: 9464, WORKER_METRICS_HOST: '0.0.0.0' });
    expect(loadWorkerConfig({ ...base, WORKER_METRICS_PORT: '0', WORKER_METRICS_HOST: '127.0.0.1' })).toMatchObject({ WORKER_METRICS_PORT: 0, WORKER_METRICS_HOST: '127.0.0.1' });
  });

  it('refuses a port that is not one, naming the variable', () => {
    expect(() => loadWorkerConfig({ ...base, WORKER_METRICS_PORT: '70000' })).toThrow(/WORKER_METRICS_PORT/);
    expect(() => loadWorkerConfig({ ...base, WORKER_METRICS_PORT: 'metrics' })).toThrow(/WORKER_METRICS_PORT/);
  });
});
