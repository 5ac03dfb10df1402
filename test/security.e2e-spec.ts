import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { io } from 'socket.io-client';
import { inferenceQueueName, JOBS_NAMESPACE, type JobAccepted } from '@fathom/contracts';
import { depthModelsDir, FathomStack, submit, subscribe, type JobsSocket } from './support/fathom-stack';

const MODEL = 'depth-test';
const QUEUE = inferenceQueueName(MODEL, '1.0.0');
const ALLOWED = 'https://app.example.com';
const STRANGER = 'https://evil.example.net';
const MAX_SUBSCRIPTIONS = 2;

/** A CSP header as directive name → its sources. */
function parseCsp(header: string | null): Map<string, string[]> {
  if (!header) throw new Error('no Content-Security-Policy header');
  return new Map(
    header
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

/** The 'sha256-…' a browser computes for each inline <script> / <style> block of the page. */
function inlineBlocks(html: string, tag: 'script' | 'style'): string[] {
  const pattern = tag === 'script' ? /<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi : /<style[^>]*>([\s\S]*?)<\/style>/gi;
  return [...html.matchAll(pattern)].map((m) => `'sha256-${createHash('sha256').update(m[1]!, 'utf8').digest('base64')}'`);
}

/** Opens a socket.io connection as a browser page of `origin` would (undefined: no Origin, like a server-side client). */
function connectAs(
  url: string,
  origin: string | undefined,
  transport: 'websocket' | 'polling',
): Promise<{ socket: JobsSocket; connected: boolean; error?: Error }> {
  const socket: JobsSocket = io(`${url}${JOBS_NAMESPACE}`, {
    transports: [transport],
    forceNew: true,
    reconnection: false,
    extraHeaders: origin ? { Origin: origin } : {},
  });
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ socket, connected: true }));
    socket.once('connect_error', (error) => {
      socket.disconnect();
      resolve({ socket, connected: false, error });
    });
  });
}

describe('Security: headers and a CSP the web page and /docs pass, one CORS allow-list for REST and socket.io, a per-socket subscription cap', () => {
  let stack: FathomStack;
  let image: Buffer;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi({ API_CORS_ORIGINS: ALLOWED, API_SOCKET_MAX_SUBSCRIPTIONS: String(MAX_SUBSCRIPTIONS) });
    await stack.startWorker({ MODELS_DIR: depthModelsDir(), WORKER_BUILTIN_MODELS: 'false' });
    image = await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 1, g: 2, b: 3 } } })
      .png()
      .toBuffer();
  }, 90_000);
  afterAll(async () => {
    await stack.stop();
  });

  it('sends helmet’s security headers and a CSP on API answers', async () => {
    const response = await fetch(`${stack.api.url}/v1/models`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(response.headers.get('x-powered-by')).toBeNull();
    const csp = parseCsp(response.headers.get('content-security-policy'));
    expect(csp.get('default-src')).toEqual(["'self'"]);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    expect(csp.get('object-src')).toEqual(["'none'"]);
    // Origins are listed here: their pages may show a result with <img>.
    expect(response.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
  });

  it('by default (no API_CORS_ORIGINS) lets only the API’s own page in: no CORS headers, other origins’ handshakes refused', async () => {
    const plain = await stack.startApi();
    const response = await fetch(`${plain.url}/v1/models`, { headers: { Origin: ALLOWED } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    const ownPage = await connectAs(plain.url, plain.url, 'websocket');
    expect(ownPage.connected).toBe(true);
    ownPage.socket.disconnect();
    expect((await connectAs(plain.url, ALLOWED, 'websocket')).connected).toBe(false);
  });

  it('serves a web page whose every inline script and style the CSP allows by hash, and nothing inline besides', async () => {
    const response = await fetch(`${stack.api.url}/`);
    const html = await response.text();
    const csp = parseCsp(response.headers.get('content-security-policy'));
    const scripts = inlineBlocks(html, 'script');
    const styles = inlineBlocks(html, 'style');
    expect(scripts.length).toBeGreaterThan(0);
    expect(styles.length).toBeGreaterThan(0);
    for (const hash of scripts) expect(csp.get('script-src')).toContain(hash);
    for (const hash of styles) expect(csp.get('style-src')).toContain(hash);
    // Under a hash-based CSP these would be blocked: there must be none.
    expect(csp.get('script-src')).not.toContain("'unsafe-inline'");
    expect(csp.get('style-src')).not.toContain("'unsafe-inline'");
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/\sstyle\s*=/i);
    expect(html).not.toMatch(/javascript:/i);
    // Its external script comes from the API itself ('self').
    for (const [, src] of html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)) {
      expect(src).toMatch(/^\/[^/]/);
      expect((await fetch(`${stack.api.url}${src}`)).status).toBe(200);
    }
  });

  it('still serves /docs: Swagger UI’s page, its scripts and styles from the API, no inline script', async () => {
    const response = await fetch(`${stack.api.url}/docs`);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('swagger-ui');
    const csp = parseCsp(response.headers.get('content-security-policy'));
    expect(inlineBlocks(html, 'script')).toEqual([]);
    expect(csp.get('script-src')).not.toContain("'unsafe-inline'");
    expect(csp.get('style-src')).toContain("'unsafe-inline'");
    const assets = [...html.matchAll(/(?:src|href)=['"]([^'"]+\.(?:js|css))['"]/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const asset of assets) {
      expect(asset).not.toMatch(/^[a-z]+:\/\//);
      // Relative to the page at /docs, as a browser resolves them.
      const url = new URL(asset, `${stack.api.url}/docs`);
      expect((await fetch(url)).status).toBe(200);
    }
    expect((await fetch(`${stack.api.url}/docs/openapi.json`)).status).toBe(200);
  });

  it('keeps /metrics off the public API port: it is on API_METRICS_PORT, on loopback by default', async () => {
    const onApiPort = await fetch(`${stack.api.url}/metrics`);
    expect(onApiPort.status).toBe(404);
    expect(((await onApiPort.json()) as { error: { code: string } }).error.code).toBe('route_not_found');
    expect(new URL(stack.api.metricsUrl).hostname).toBe('127.0.0.1');
    expect(new URL(stack.api.metricsUrl).port).not.toBe(new URL(stack.api.url).port);
    const scrape = await fetch(stack.api.metricsUrl);
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toMatch(/^# TYPE fathom_http_request_duration_seconds histogram$/m);
  });

  it('gives CORS headers to a listed origin only, preflight included', async () => {
    const allowed = await fetch(`${stack.api.url}/v1/models`, { headers: { Origin: ALLOWED } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    const preflight = await fetch(`${stack.api.url}/v1/jobs`, {
      method: 'OPTIONS',
      headers: { Origin: ALLOWED, 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(ALLOWED);

    const stranger = await fetch(`${stack.api.url}/v1/models`, { headers: { Origin: STRANGER } });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
    const strangerPreflight = await fetch(`${stack.api.url}/v1/jobs`, {
      method: 'OPTIONS',
      headers: { Origin: STRANGER, 'Access-Control-Request-Method': 'POST' },
    });
    expect(strangerPreflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets socket.io handshakes from a listed origin, the API’s own page and non-browser clients through, and refuses any other origin', async () => {
    for (const transport of ['websocket', 'polling'] as const) {
      const listed = await connectAs(stack.api.url, ALLOWED, transport);
      expect(listed.connected).toBe(true);
      listed.socket.disconnect();
      const ownPage = await connectAs(stack.api.url, stack.api.url, transport);
      expect(ownPage.connected).toBe(true);
      ownPage.socket.disconnect();
      const noOrigin = await connectAs(stack.api.url, undefined, transport);
      expect(noOrigin.connected).toBe(true);
      noOrigin.socket.disconnect();

      const stranger = await connectAs(stack.api.url, STRANGER, transport);
      expect(stranger.connected).toBe(false);
    }
  });

  it(`refuses a subscription past API_SOCKET_MAX_SUBSCRIPTIONS with subscription_limit, and unsubscribing frees a slot`, async () => {
    // Paused: the jobs stay queued, so each subscription holds its room until unsubscribed.
    const redis = new Redis(stack.redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE, { connection: redis, prefix: 'fathom' });
    await queue.pause();
    try {
      const ids: string[] = [];
      for (let i = 0; i <= MAX_SUBSCRIPTIONS; i += 1) {
        const response = await submit(stack.api, { image, model: MODEL });
        expect(response.status).toBe(202);
        ids.push(((await response.json()) as JobAccepted).id);
      }
      const socket = await stack.connect();
      for (const id of ids.slice(0, MAX_SUBSCRIPTIONS)) expect(await subscribe(socket, id)).toMatchObject({ ok: true });
      // Subscribing again to a job it listens to takes no new slot.
      expect(await subscribe(socket, ids[0]!)).toMatchObject({ ok: true });

      const last = ids[MAX_SUBSCRIPTIONS]!;
      const refused = await subscribe(socket, last);
      expect(refused).toMatchObject({ ok: false, error: { code: 'subscription_limit' } });
      expect(!refused.ok && refused.error.message).toContain('API_SOCKET_MAX_SUBSCRIPTIONS');

      socket.emit('unsubscribe', { jobId: ids[0]! });
      expect(await subscribe(socket, last)).toMatchObject({ ok: true, status: { id: last } });

      // A burst of subscribes sent together cannot pass the cap before their joins land.
      const other = await stack.connect();
      const burst = await Promise.all(ids.map((id) => subscribe(other, id)));
      expect(burst.filter((reply) => reply.ok)).toHaveLength(MAX_SUBSCRIPTIONS);
      expect(burst.filter((reply) => !reply.ok && reply.error.code === 'subscription_limit')).toHaveLength(ids.length - MAX_SUBSCRIPTIONS);
    } finally {
      await queue.resume();
      await queue.close();
      redis.disconnect();
    }
  });
});
