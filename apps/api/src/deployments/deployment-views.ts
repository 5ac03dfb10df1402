import {
  DEPLOYMENTS_NAMESPACE,
  inferenceQueueName,
  type DeploymentView,
  type DesiredDeployment,
  type WorkerHeartbeat,
} from '@fathom/contracts';
import type { DeploymentRecord } from '@fathom/database';
import { DEFAULT_BATCH_DELAY_MS } from '@fathom/models';

/** The route of one deployment (name@version) in the admin API. */
export const deploymentPath = (name: string, version: string) =>
  `/v1/admin/models/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;

/** The variants a deployment declares (each has a queue of its own besides the base version's). */
export function variantsOf(record: Pick<DeploymentRecord, 'manifest'>): string[] {
  const variants = record.manifest.variants;
  return typeof variants === 'object' && variants !== null ? Object.keys(variants) : [];
}

/** Every queue a deployment's jobs wait in: the base version's and each variant's. */
export function queuesOf(record: Pick<DeploymentRecord, 'name' | 'version' | 'manifest'>): string[] {
  return [undefined, ...variantsOf(record)].map((variant) => inferenceQueueName(record.name, record.version, variant));
}

/**
 * The mirror entry workers act on: the manifest as registered with the mutable fields applied
 * (description, defaults, batching can change with PUT), so a worker needs no database.
 */
export function desiredOf(record: DeploymentRecord): DesiredDeployment {
  const manifest: Record<string, unknown> = { ...record.manifest };
  if (record.description !== null) manifest.description = record.description;
  if (record.defaults !== null) manifest.defaults = record.defaults;
  if (record.batching !== null) manifest.batching = record.batching;
  return {
    id: record.id,
    name: record.name,
    version: record.version,
    task: record.task,
    state: record.state,
    source: record.source,
    manifest,
    weights: Object.fromEntries(Object.entries(record.weights).map(([part, w]) => [part, { sha256: w.sha256, bytes: w.bytes }])),
    selector: record.selector,
    createdAt: Date.parse(record.createdAt),
    revision: record.revision,
  };
}

/** Whether a deployment belongs in the mirror: REST ones workers should have loaded; local ones only to drain or stay off. */
export function mirrored(record: Pick<DeploymentRecord, 'source' | 'state'>): boolean {
  return record.source === 'local'
    ? record.state === 'retiring' || record.state === 'retired'
    : ['warming', 'serving', 'retiring'].includes(record.state);
}

/** What live workers say about a deployment: their own reports, or (a local one) that they serve it. */
export function workerReports(record: DeploymentRecord, workers: WorkerHeartbeat[]): DeploymentView['workers'] {
  return workers.flatMap((worker) => {
    const report = worker.deployments?.find((d) => d.deploymentId === record.id);
    if (report) {
      return [{ workerId: worker.workerId, state: report.state, since: report.since, ...(report.reason ? { reason: report.reason } : {}) }];
    }
    if (record.source === 'local' && worker.models.some((m) => m.name === record.name && m.version === record.version && !m.variant))
      return [{ workerId: worker.workerId, state: 'serving' as const, since: worker.startedAt }];
    return [];
  });
}

export function viewOf(record: DeploymentRecord, workers: WorkerHeartbeat[]): DeploymentView {
  return {
    id: record.id,
    name: record.name,
    version: record.version,
    task: record.task,
    state: record.state,
    reason: record.reason,
    source: record.source,
    weights: record.weights,
    description: record.description,
    defaults: record.defaults,
    batching: record.batching && { maxBatch: record.batching.maxBatch, maxDelayMs: record.batching.maxDelayMs ?? DEFAULT_BATCH_DELAY_MS },
    selector: record.selector,
    replicas: record.replicas,
    workers: workerReports(record, workers),
    createdAt: record.createdAt,
    createdBy: record.createdBy,
    updatedAt: record.updatedAt,
    links: { self: deploymentPath(record.name, record.version), events: DEPLOYMENTS_NAMESPACE },
  };
}
