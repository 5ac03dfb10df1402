import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** The metrics port cannot be opened (in use, not allowed): a configuration problem, stated without a stack. */
export class MetricsListenError extends Error {}

/**
 * `GET /metrics` on a port of its own, for the worker (a Nest application context with no HTTP
 * server) and the API (whose public port does not show queue depths, routes and worker counts to
 * anyone who asks): a scrape waits behind nothing but the registry.
 */
export class MetricsServer {
  private server: Server | undefined;

  /** `settings` names the variables that choose the port, for the message when it cannot be opened. */
  constructor(
    private readonly registry: Registry,
    private readonly settings = 'WORKER_METRICS_PORT / WORKER_METRICS_HOST',
  ) {}

  /** Listens and resolves with the URL to scrape (the real port when asked for port 0). */
  async listen(port: number, host: string): Promise<string> {
    const server = createServer((request, response) => {
      const path = (request.url ?? '').split('?')[0];
      if (path !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: this port serves GET /metrics only.\n');
        return;
      }
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end();
        return;
      }
      this.registry.metrics().then(
        (body) => response.writeHead(200, { 'content-type': this.registry.contentType }).end(request.method === 'HEAD' ? undefined : body),
        (error: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      const failed = (error: NodeJS.ErrnoException) =>
        reject(new MetricsListenError(`${this.settings}: cannot listen on ${host}:${port} (${error.code ?? error.message})`));
      server.once('error', failed);
      server.listen(port, host, () => {
        server.off('error', failed);
        resolve();
      });
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    return `http://${reachableHost(address)}:${address.port}/metrics`;
  }

  /** Stops listening and drops idle keep-alive connections (Prometheus keeps one open). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await closed;
  }
}

/** A wildcard address is reached on loopback from this machine; IPv6 literals go in brackets. */
function reachableHost(address: AddressInfo): string {
  if (address.address === '0.0.0.0') return '127.0.0.1';
  if (address.address === '::') return '[::1]';
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}
