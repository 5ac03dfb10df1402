import type { Provider } from '@nestjs/common';
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * This API instance's Prometheus registry (one per instance: several can share a test process).
 * ApiMetrics and every `*.collector.ts` register into it; GET /metrics serves it.
 */
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');

export const metricsRegistryProvider: Provider = {
  provide: METRICS_REGISTRY,
  useFactory: () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    return registry;
  },
};
