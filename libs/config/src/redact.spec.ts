import { ConfigError, loadConfig } from './load-config';
import { redisEnv } from './env-schemas';
import { redactSecrets, redactUrlCredentials, secretValues } from './redact';

describe('secret redaction', () => {
  it("hides a URL's password, wherever the URL appears", () => {
    expect(redactUrlCredentials('connect to redis://:s3cret@10.0.0.1:6379/0 failed')).toBe(
      'connect to redis://:[redacted]@10.0.0.1:6379/0 failed',
    );
    expect(redactUrlCredentials('rediss://default:p%40ss@host:6380')).toBe('rediss://default:[redacted]@host:6380');
    expect(redactUrlCredentials('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });

  it('finds the secrets of an environment: URL passwords (raw and decoded) and secret variables', () => {
    const key = 'fth_abcdefghijklmnop_0123456789abcdef0123456789abcdef0123456';
    const env = { REDIS_URL: 'redis://:p%40ssw0rd@host:6379', FATHOM_API_KEY: key, PORT: '8080' };
    expect(secretValues(env)).toEqual(expect.arrayContaining(['p%40ssw0rd', 'p@ssw0rd', key]));
    expect(secretValues(env)).not.toContain('8080');
  });

  it('redacts every secret of the environment from a crash log, even outside a URL', () => {
    const env = { REDIS_URL: 'redis://:p%40ssw0rd@host:6379' };
    const crash = "ReplyError: WRONGPASS invalid username-password pair\n  command: { name: 'auth', args: [ 'p@ssw0rd' ] }";
    expect(redactSecrets(crash, env)).toBe(
      "ReplyError: WRONGPASS invalid username-password pair\n  command: { name: 'auth', args: [ '[redacted]' ] }",
    );
  });

  it("a config error names the variable but never quotes a password or a secret variable's value", () => {
    const schema = redisEnv.extend({ FATHOM_API_KEY: redisEnv.shape.REDIS_PREFIX });
    let message = '';
    try {
      loadConfig('api', schema, { REDIS_URL: 'http://:hunter22@host:1', FATHOM_API_KEY: 'id:not valid!', REDIS_COMMAND_TIMEOUT_MS: '5' });
    } catch (error) {
      message = (error as ConfigError).message;
    }
    expect(message).toMatch(/REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL \(got "http:\/\/:\[redacted\]@host:1"\)/);
    expect(message).toMatch(/FATHOM_API_KEY: .* \(got \[redacted\]\)/);
    expect(message).toMatch(/REDIS_COMMAND_TIMEOUT_MS: .* \(got "5"\)/);
    expect(message).not.toContain('hunter22');
    expect(message).not.toContain('not valid!');
  });

  it('reads the Redis timeouts with defaults, and the TLS CA file when set', () => {
    const base = { REDIS_URL: 'rediss://cache.internal:6380' };
    expect(loadConfig('api', redisEnv, base)).toMatchObject({ REDIS_COMMAND_TIMEOUT_MS: 2_000, REDIS_CONNECT_TIMEOUT_MS: 5_000 });
    expect(loadConfig('api', redisEnv, { ...base, REDIS_TLS_CA_FILE: '/etc/ca.pem' }).REDIS_TLS_CA_FILE).toBe('/etc/ca.pem');
    expect(() => loadConfig('api', redisEnv, { ...base, REDIS_CONNECT_TIMEOUT_MS: 'soon' })).toThrow(/REDIS_CONNECT_TIMEOUT_MS/);
  });
});
