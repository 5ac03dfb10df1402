import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { MetricsServer } from '@fathom/telemetry';
import { METRICS_REGISTRY } from './metrics.registry';

/**
 * `GET /metrics` on a port of its own (API_METRICS_PORT, on 127.0.0.1 unless API_METRICS_HOST
 * says otherwise): the public API port does not show queue depths, routes and worker counts to
 * anyone who asks, and a scrape never waits behind uploads.
 */
@Injectable()
export class ApiMetricsServer implements OnApplicationShutdown {
  private readonly server: MetricsServer;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.server = new MetricsServer(registry, 'API_METRICS_PORT / API_METRICS_HOST');
  }

  /** Listens and resolves with the URL to scrape (the real port when asked for port 0). */
  listen(port: number, host: string): Promise<string> {
    return this.server.listen(port, host);
  }

  onApplicationShutdown(): Promise<void> {
    return this.server.close();
  }
}
