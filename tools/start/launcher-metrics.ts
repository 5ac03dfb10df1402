import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import type { ProcessName } from './supervised-process';

/**
 * The launcher's own Prometheus target: a restarted child starts its counters from zero, so only
 * the launcher, which outlives its children, can count their restarts.
 */
export class LauncherMetrics {
  private readonly registry = new Registry();
  private readonly restarts = new Counter({
    name: 'fathom_launcher_restarts_total',
    help: 'Processes `npm start` restarted after they stopped on their own',
    labelNames: ['process'],
    registers: [this.registry],
  });
  private server?: Server;

  constructor(processes: readonly ProcessName[]) {
    // Every process's series exists from the start (0), so rate() and increase() see the first restart.
    for (const process of processes) this.restarts.inc({ process }, 0);
  }

  restarted(process: ProcessName): void {
    this.restarts.inc({ process });
  }

  /** Serves GET /metrics; resolves with its URL (the port chosen when `port` is 0). */
  async listen(port: number, host: string): Promise<string> {
    const server = createServer((request, response) => {
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
        response.writeHead(404).end();
        return;
      }
      void this.registry.metrics().then(
        (body) => response.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        () => response.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/metrics`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
