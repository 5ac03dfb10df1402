import { z } from 'zod';
import { ConfigError, loadConfig } from './load-config';
import { envInt } from './env-values';
import { envKeys, heartbeatEnv, imageLimitsEnv, redisEnv, serviceEnv } from './env-schemas';

function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  const schema = serviceEnv.extend({ PORT: envInt(8080, { min: 0, max: 65535 }) });

  it('fills defaults for what is unset', () => {
    const config = loadConfig('api', schema, { REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(config).toMatchObject({ PORT: 8080, REDIS_PREFIX: 'fathom', STORAGE_RETENTION_SECONDS: 86400, LOG_LEVEL: 'info' });
  });

  it('names every bad variable and what it was given', () => {
    const message = configError(() => loadConfig('api', schema, { REDIS_URL: 'http://nope', PORT: 'eighty' })).message;
    expect(message).toContain('api: invalid configuration');
    expect(message).toMatch(/REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL \(got "http:\/\/nope"\)/);
    expect(message).toMatch(/PORT: .* \(got "eighty"\)/);
  });

  it('reports a missing required variable', () => {
    expect(() => loadConfig('worker', redisEnv.pick({ REDIS_URL: true }), {})).toThrow(/REDIS_URL/);
  });
});

describe('renamed variables', () => {
  const schema = redisEnv.extend(imageLimitsEnv.shape);
  const base = { REDIS_URL: 'redis://127.0.0.1:6379' };

  it('stop a process that reads the new name, saying what to set instead', () => {
    const error = configError(() => loadConfig('fathom-api', schema, { ...base, API_MAX_PIXELS: '1000' }));
    expect(error.problems).toEqual(['API_MAX_PIXELS: renamed IMAGE_MAX_PIXELS; set IMAGE_MAX_PIXELS instead (got "1000")']);
    expect(() => loadConfig('fathom-worker', schema, { ...base, WORKER_MAX_PIXELS: '1000', IMAGE_MAX_PIXELS: '1000' })).toThrow(
      /WORKER_MAX_PIXELS: renamed IMAGE_MAX_PIXELS/,
    );
  });

  it('are no concern of a process that does not read the new name', () => {
    expect(loadConfig('fathom-worker', schema, { ...base, JOB_ATTEMPTS: '5' })).toMatchObject({ IMAGE_MAX_PIXELS: 40_000_000 });
  });

  it('count as unset when empty', () => {
    expect(loadConfig('fathom-api', schema, { ...base, API_MAX_PIXELS: '' }).IMAGE_MAX_PIXELS).toBe(40_000_000);
  });
});

describe('shared pieces', () => {
  it('declare each shared variable once, with one default and one bound', () => {
    expect(loadConfig('x', heartbeatEnv, {}).WORKER_HEARTBEAT_TTL_MS).toBe(15_000);
    expect(() => loadConfig('x', heartbeatEnv, { WORKER_HEARTBEAT_TTL_MS: '999' })).toThrow(/WORKER_HEARTBEAT_TTL_MS/);
    expect(() => loadConfig('x', imageLimitsEnv, { IMAGE_MAX_PIXELS: '0' })).toThrow(/IMAGE_MAX_PIXELS/);
  });

  it('list their keys for the README table', () => {
    expect(envKeys(z.object({ B: envInt(1), A: envInt(2) }))).toEqual(['A', 'B']);
  });
});
