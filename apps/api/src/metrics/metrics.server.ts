import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { METRICS_REGISTRY } from './metrics.registry';

/**
 * `GET /metrics` on a port of its own (API_METRICS_PORT, on 127.0.0.1 unless API_METRICS_HOST
 * says otherwise): the public API port does not show queue depths, routes and worker counts to
 * anyone who asks, and a scrape never waits behind uploads.
 */
@Injectable()
export class ApiMetricsServer implements OnApplicationShutdown {
  private server: Server | undefined;

  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  /** Listens and resolves with the URL to scrape (the real port when asked for port 0). */
  async listen(port: number, host: string): Promise<string> {
    const server = createServer((request, response) => {
      if ((request.url ?? '').split('?')[0] !== '/metrics') {
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
        reject(new Error(`API_METRICS_PORT / API_METRICS_HOST: cannot listen on ${host}:${port} (${error.code ?? error.message})`));
      server.once('error', failed);
      server.listen(port, host, () => {
        server.off('error', failed);
        resolve();
      });
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    const reachable =
      address.address === '0.0.0.0'
        ? '127.0.0.1'
        : address.address === '::'
          ? '[::1]'
          : address.family === 'IPv6'
            ? `[${address.address}]`
            : address.address;
    return `http://${reachable}:${address.port}/metrics`;
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Prometheus keeps its connection open.
    server.closeAllConnections();
    await closed;
  }
}
