import { z } from 'zod';
import { ConfigError, loadConfig } from './load-config';
import { commonEnvSchema, envInt } from './env-schemas';

describe('loadConfig', () => {
  const schema = commonEnvSchema.extend({ PORT: envInt(8080, { min: 0, max: 65535 }) });

  it('fills defaults for what is unset', () => {
    const config = loadConfig('api', schema, { REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(config).toMatchObject({ PORT: 8080, REDIS_PREFIX: 'fathom', STORAGE_RETENTION_SECONDS: 86400, LOG_LEVEL: 'info' });
  });

  it('names every bad variable and what it was given', () => {
    let error: unknown;
    try {
      loadConfig('api', schema, { REDIS_URL: 'http://nope', PORT: 'eighty' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('api: invalid configuration');
    expect(message).toMatch(/REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL \(got "http:\/\/nope"\)/);
    expect(message).toMatch(/PORT: .* \(got "eighty"\)/);
  });

  it('reports a missing required variable', () => {
    expect(() => loadConfig('worker', z.object({ REDIS_URL: commonEnvSchema.shape.REDIS_URL }), {})).toThrow(/REDIS_URL/);
  });
});
