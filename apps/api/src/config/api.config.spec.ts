import { storageSettings, storageSweepIntervalMs } from '@fathom/config';
import { authMode, loadApiConfig } from './api.config';

describe('API config', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://fathom@127.0.0.1:5432/fathom' };

  it('reads the job retry settings under the API_ prefix, 3 attempts from 1 s by default', () => {
    expect(loadApiConfig(base)).toMatchObject({ API_JOB_ATTEMPTS: 3, API_JOB_BACKOFF_MS: 1000, IMAGE_MAX_PIXELS: 40_000_000 });
    expect(loadApiConfig({ ...base, API_JOB_ATTEMPTS: '5', API_JOB_BACKOFF_MS: '20' })).toMatchObject({
      API_JOB_ATTEMPTS: 5,
      API_JOB_BACKOFF_MS: 20,
    });
  });

  it('stops on the old names, saying what to set instead', () => {
    expect(() => loadApiConfig({ ...base, JOB_ATTEMPTS: '5' })).toThrow(/JOB_ATTEMPTS: renamed API_JOB_ATTEMPTS/);
    expect(() => loadApiConfig({ ...base, JOB_BACKOFF_MS: '20' })).toThrow(/JOB_BACKOFF_MS: renamed API_JOB_BACKOFF_MS/);
    expect(() => loadApiConfig({ ...base, API_MAX_PIXELS: '100' })).toThrow(/API_MAX_PIXELS: renamed IMAGE_MAX_PIXELS/);
  });

  it('listens on loopback by default, where no key is needed; anywhere else every request needs a key', () => {
    const local = loadApiConfig(base);
    expect(local.HOST).toBe('127.0.0.1');
    expect(authMode(local)).toBe('none');
    expect(authMode(loadApiConfig({ ...base, HOST: '0.0.0.0' }))).toBe('keys');
    expect(authMode(loadApiConfig({ ...base, API_AUTH: 'keys' }))).toBe('keys');
    expect(authMode(loadApiConfig({ ...base, HOST: '::1', API_AUTH: 'none' }))).toBe('none');
  });

  it('refuses API_AUTH=none on an address other machines reach', () => {
    expect(() => loadApiConfig({ ...base, HOST: '0.0.0.0', API_AUTH: 'none' })).toThrow(
      /API_AUTH: none .* allowed only on a loopback HOST .*, not 0\.0\.0\.0: set API_AUTH=keys/,
    );
  });

  it('tells a user who still sets API_ADMIN_KEYS what replaced it', () => {
    expect(() => loadApiConfig({ ...base, API_ADMIN_KEYS: 'ops:0123456789abcdef0' })).toThrow(
      /API_ADMIN_KEYS: replaced by API keys with scopes: create one with `npm run keys -- create --owner ops --scopes models:admin`/,
    );
  });

  it('has server timeouts that let a 25 MiB upload through at 1 Mbit/s and outlast POST /v1/infer', () => {
    const config = loadApiConfig(base);
    expect(config.API_REQUEST_TIMEOUT_MS).toBeGreaterThan(((config.API_MAX_UPLOAD_BYTES * 8) / 1_000_000) * 1000);
    expect(config.API_CONNECTION_TIMEOUT_MS).toBeGreaterThan(config.API_INFER_TIMEOUT_MS);
    expect(config.API_HEADERS_TIMEOUT_MS).toBeLessThanOrEqual(config.API_REQUEST_TIMEOUT_MS);
  });

  it('refuses timeouts that contradict each other, naming the variables', () => {
    expect(() => loadApiConfig({ ...base, API_REQUEST_TIMEOUT_MS: '1000' })).toThrow(
      /API_HEADERS_TIMEOUT_MS: must not exceed API_REQUEST_TIMEOUT_MS \(1000\)/,
    );
    expect(() => loadApiConfig({ ...base, API_INFER_TIMEOUT_MS: '200000' })).toThrow(
      /API_CONNECTION_TIMEOUT_MS: must exceed API_INFER_TIMEOUT_MS \(200000\)/,
    );
  });

  it('allows no cross-origin access unless origins are listed, and refuses an origin with a path', () => {
    expect(loadApiConfig(base)).toMatchObject({
      API_CORS_ORIGINS: [],
      API_SOCKET_MAX_SUBSCRIPTIONS: 1000,
      API_METRICS_PORT: 9463,
      API_METRICS_HOST: '127.0.0.1',
    });
    expect(loadApiConfig({ ...base, API_CORS_ORIGINS: 'https://a.example.com, http://localhost:3000' }).API_CORS_ORIGINS).toEqual([
      'https://a.example.com',
      'http://localhost:3000',
    ]);
    expect(() => loadApiConfig({ ...base, API_CORS_ORIGINS: 'https://a.example.com/' })).toThrow(/API_CORS_ORIGINS/);
    expect(() => loadApiConfig({ ...base, API_CORS_ORIGINS: '*' })).toThrow(/API_CORS_ORIGINS/);
  });

  it('refuses a bad value naming the variable', () => {
    expect(() => loadApiConfig({ ...base, IMAGE_MAX_PIXELS: 'many' })).toThrow(/IMAGE_MAX_PIXELS: .* \(got "many"\)/);
    expect(() => loadApiConfig({ ...base, WORKER_HEARTBEAT_TTL_MS: '10' })).toThrow(/WORKER_HEARTBEAT_TTL_MS/);
  });

  it('keeps bytes in a folder by default and checks an S3 store is fully described at start-up', () => {
    const local = loadApiConfig({ ...base, XDG_DATA_HOME: '/data' });
    expect(storageSettings(local)).toEqual({ backend: 'filesystem', dir: '/data/fathom/blobs' });
    expect(storageSweepIntervalMs(local)).toBe(300_000);

    expect(() => loadApiConfig({ ...base, STORAGE_BACKEND: 's3' })).toThrow(/STORAGE_S3_BUCKET: is required with STORAGE_BACKEND=s3/);
    expect(() => loadApiConfig({ ...base, STORAGE_BACKEND: 'redis' })).toThrow(/STORAGE_BACKEND/);
    expect(() => loadApiConfig({ ...base, STORAGE_BACKEND: 's3', STORAGE_S3_BUCKET: 'b', STORAGE_S3_ACCESS_KEY_ID: 'id' })).toThrow(
      /STORAGE_S3_SECRET_ACCESS_KEY: STORAGE_S3_ACCESS_KEY_ID and STORAGE_S3_SECRET_ACCESS_KEY are set together/,
    );
    expect(() => loadApiConfig({ ...base, STORAGE_BACKEND: 's3', STORAGE_S3_BUCKET: 'b', STORAGE_S3_ENDPOINT: 'minio:9000' })).toThrow(
      /STORAGE_S3_ENDPOINT: must be an http/,
    );

    const minio = loadApiConfig({
      ...base,
      STORAGE_BACKEND: 's3',
      STORAGE_S3_BUCKET: 'fathom',
      STORAGE_S3_ENDPOINT: 'http://minio:9000',
      STORAGE_S3_FORCE_PATH_STYLE: 'true',
      STORAGE_S3_ACCESS_KEY_ID: 'fathom',
      STORAGE_S3_SECRET_ACCESS_KEY: 'secret-value',
    });
    expect(storageSettings(minio)).toMatchObject({
      backend: 's3',
      bucket: 'fathom',
      endpoint: 'http://minio:9000',
      forcePathStyle: true,
      credentials: { accessKeyId: 'fathom', secretAccessKey: 'secret-value' },
      timeoutMs: 10_000,
    });
    // A bucket lifecycle rule expires S3 blobs unless a sweep interval is set.
    expect(storageSweepIntervalMs(minio)).toBe(0);
    // Only a bucket can hand out a link to the result.
    expect(() => loadApiConfig({ ...base, API_RESULT_REDIRECT_SECONDS: '60' })).toThrow(
      /API_RESULT_REDIRECT_SECONDS: needs STORAGE_BACKEND=s3/,
    );
  });
});
