import { Counter, Registry } from 'prom-client';
import { MetricsListenError, MetricsServer } from './metrics.server';

describe('MetricsServer', () => {
  const registry = new Registry();
  new Counter({ name: 'fathom_test_total', help: 'a test counter', registers: [registry] }).inc(3);
  const server = new MetricsServer(registry);
  let url: string;

  beforeAll(async () => {
    url = await server.listen(0, '127.0.0.1');
  });
  afterAll(() => server.close());

  it('serves the registry on GET /metrics, at the port it reports', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(registry.contentType);
    expect(await response.text()).toContain('fathom_test_total 3');
  });

  it('serves nothing else', async () => {
    expect((await fetch(url.replace('/metrics', '/'))).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  });

  it('stops the worker with a sentence naming the variable when the port is taken', async () => {
    const port = new URL(url).port;
    const other = new MetricsServer(registry);
    await expect(other.listen(Number(port), '127.0.0.1')).rejects.toThrow(MetricsListenError);
    await expect(other.listen(Number(port), '127.0.0.1')).rejects.toThrow(
      `WORKER_METRICS_PORT / WORKER_METRICS_HOST: cannot listen on 127.0.0.1:${port} (EADDRINUSE)`,
    );
  });

  it('closes even with a scraper keeping its connection open', async () => {
    const keepAlive = new MetricsServer(registry);
    const target = await keepAlive.listen(0, '127.0.0.1');
    await (await fetch(target, { keepalive: true })).text();
    await keepAlive.close();
    await expect(fetch(target)).rejects.toThrow();
  });
});
