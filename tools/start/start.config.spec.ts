import { loadStartConfig } from './start.config';

describe("npm start's configuration", () => {
  it('restarts after 1 s doubling to 30 s, resets after a minute, gives 10 s to stop, serves /metrics on 127.0.0.1:9465', () => {
    expect(loadStartConfig({})).toMatchObject({
      START_RESTART_DELAY_MS: 1_000,
      START_RESTART_MAX_DELAY_MS: 30_000,
      START_RESTART_RESET_MS: 60_000,
      START_STOP_GRACE_MS: 10_000,
      START_METRICS_PORT: 9465,
      START_METRICS_HOST: '127.0.0.1',
    });
  });

  it('refuses a cap below the first delay, and a port out of range, naming the variable', () => {
    expect(() => loadStartConfig({ START_RESTART_DELAY_MS: '5000', START_RESTART_MAX_DELAY_MS: '1000' })).toThrow(
      /START_RESTART_MAX_DELAY_MS: must be at least START_RESTART_DELAY_MS/,
    );
    expect(() => loadStartConfig({ START_METRICS_PORT: '70000' })).toThrow(/START_METRICS_PORT/);
  });
});
