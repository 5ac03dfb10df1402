import { metricsUrl, workerEnv } from './child-env';

describe("the worker's environment under npm start", () => {
  it('limits glibc to two malloc arenas and holds its mmap threshold at 128 KiB, keeping everything else the launcher passes on', () => {
    expect(workerEnv({ REDIS_URL: 'redis://127.0.0.1:1', PORT: '8080' })).toEqual({
      REDIS_URL: 'redis://127.0.0.1:1',
      PORT: '8080',
      MALLOC_ARENA_MAX: '2',
      MALLOC_MMAP_THRESHOLD_: '131072',
    });
  });

  it("keeps the user's own MALLOC_ARENA_MAX and MALLOC_MMAP_THRESHOLD_", () => {
    expect(workerEnv({ MALLOC_ARENA_MAX: '8' }).MALLOC_ARENA_MAX).toBe('8');
    expect(workerEnv({ MALLOC_ARENA_MAX: '' }).MALLOC_ARENA_MAX).toBe('2');
    expect(workerEnv({ MALLOC_MMAP_THRESHOLD_: '1048576' }).MALLOC_MMAP_THRESHOLD_).toBe('1048576');
  });
});

describe('the metrics address npm start prints', () => {
  it('is reachable from this machine: a wildcard host becomes loopback, an IPv6 host goes in brackets', () => {
    expect(metricsUrl('127.0.0.1', 9463)).toBe('http://127.0.0.1:9463/metrics');
    expect(metricsUrl('0.0.0.0', 9463)).toBe('http://127.0.0.1:9463/metrics');
    expect(metricsUrl('::', 9463)).toBe('http://[::1]:9463/metrics');
    expect(metricsUrl('fd00::5', 9463)).toBe('http://[fd00::5]:9463/metrics');
    expect(metricsUrl('metrics.internal', 9000)).toBe('http://metrics.internal:9000/metrics');
  });
});
