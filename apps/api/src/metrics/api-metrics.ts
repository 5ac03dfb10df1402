import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';

/**
 * The API's Prometheus metrics, in a registry of its own (several API instances can share a test
 * process). Labels are bounded: model, version, variant, task and route come from manifests and
 * the rollout, never from a job id or a client.
 */
@Injectable()
export class ApiMetrics {
  readonly registry = new Registry();

  readonly jobsSubmitted = new Counter({
    name: 'fathom_jobs_submitted_total',
    help: 'Jobs accepted, by the model version they were routed to and how (stable, canary, pinned).',
    labelNames: ['model', 'version', 'variant', 'task', 'route'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
